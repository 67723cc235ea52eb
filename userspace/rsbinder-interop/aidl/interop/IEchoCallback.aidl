// SPDX-License-Identifier: GPL-2.0
package interop;

/** What the client hands the echo service, so that the service can call the client back. */
interface IEchoCallback {
    /** One-way answer to IEcho.echoOneway: the sequence number and the data, unchanged. */
    oneway void onEcho(int seq, in byte[] data);

    /** Synchronous call made by the service while the client waits in IEcho.callBack. */
    int onCall(in byte[] data);
}
