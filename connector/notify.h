/*
 * systemd's service notification protocol (sd_notify(3)) without libsystemd: a datagram to
 * $NOTIFY_SOCKET. READY=1 once SIP is bound, STATUS= for what `systemctl status` shows (for
 * instance that the store is failing and operations are held in memory), STOPPING=1 on
 * shutdown. A no-op when not started by systemd.
 */
#ifndef SCVB_NOTIFY_H
#define SCVB_NOTIFY_H

/* 0, or a negative errno; failures are not fatal and not logged twice. */
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
