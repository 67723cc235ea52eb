// SPDX-License-Identifier: GPL-2.0
package interop;

import interop.IEchoCallback;

/** The echo service the client finds through the service manager. */
interface IEcho {
    /** Returns the data unchanged. */
    byte[] echo(in byte[] data);

    /** Sends the sequence number and the data back through callback.onEcho, one-way too. */
    oneway void echoOneway(int seq, in byte[] data, IEchoCallback callback);

    /** Returns what callback.onCall answers for the data, called while the caller waits. */
    int callBack(IEchoCallback callback, in byte[] data);

    /** The service's process id, so that the client can kill it. */
    int pid();
}
