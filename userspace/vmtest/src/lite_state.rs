//! binder-lite's debugfs `state` file: what each process (open file of the device) holds.

/// The file.
pub const STATE: &str = "/sys/kernel/debug/binder-lite/state";

/// The processes of a `state` text, in the order they opened the device: the pid of each and
/// its lines (trimmed).
pub fn parse_state(text: &str) -> Vec<(String, Vec<String>)> {
    let mut procs: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("proc ") {
            let pid = rest.split(' ').next().unwrap_or_default();
            procs.push((pid.to_string(), Vec::new()));
        } else if let Some((_, lines)) = procs.last_mut() {
            lines.push(line.trim().to_string());
        }
    }
    procs
}

/// The entries of the processes (open files) of process `pid` in the `state` file.
pub fn entries_of(pid: u32) -> Result<Vec<Vec<String>>, String> {
    let text = std::fs::read_to_string(STATE).map_err(|e| format!("{STATE}: {e}"))?;
    let pid = pid.to_string();
    Ok(parse_state(&text)
        .into_iter()
        .filter(|(p, _)| *p == pid)
        .map(|(_, lines)| lines)
        .collect())
}

/// The `handles` line of an entry: the capacity of the process's handle pool, how many ids
/// the pool counts in use, and the handles of its references (in the order of its handle
/// tree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handles {
    pub capacity: usize,
    pub used: usize,
    pub listed: Vec<u32>,
}

impl Handles {
    /// The `handles` line of `lines`, parsed.
    pub fn of(lines: &[String]) -> Result<Handles, String> {
        let line = lines
            .iter()
            .find(|l| l.starts_with("handles: "))
            .ok_or_else(|| format!("no handles line in {lines:?}"))?;
        Handles::parse(line).ok_or_else(|| format!("cannot parse {line:?}"))
    }

    /// Parses `handles: capacity C, U in use: H H ...`.
    pub fn parse(line: &str) -> Option<Handles> {
        let rest = line.strip_prefix("handles: capacity ")?;
        let (capacity, rest) = rest.split_once(", ")?;
        let (used, list) = rest.split_once(" in use:")?;
        Some(Handles {
            capacity: capacity.parse().ok()?,
            used: used.parse().ok()?,
            listed: list
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?,
        })
    }
}

/// The number of references of an entry (its `refs: N (...)` line).
pub fn refs_of(lines: &[String]) -> Result<usize, String> {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("refs: "))
        .and_then(|r| r.split(' ').next()?.parse().ok())
        .ok_or_else(|| format!("no refs line in {lines:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_handles_are_parsed() {
        let text = "binder-lite state\nproc 81 (id 3)\n  nodes: 1\n  refs: 2 (2 strong, 2 weak)\n  \
                    handles: capacity 128, 2 in use: 0 7\nproc 90 (id 4)\n  refs: 0 (0 strong, 0 weak)\n";
        let procs = parse_state(text);
        assert_eq!(procs.len(), 2);
        assert_eq!(procs[0].0, "81");
        assert_eq!(refs_of(&procs[0].1), Ok(2));
        assert_eq!(
            Handles::of(&procs[0].1),
            Ok(Handles {
                capacity: 128,
                used: 2,
                listed: vec![0, 7]
            })
        );
        assert_eq!(refs_of(&procs[1].1), Ok(0));
        assert!(Handles::of(&procs[1].1).is_err());
        assert_eq!(Handles::parse("handles: capacity 64, 1 in use: x"), None);
    }
}
