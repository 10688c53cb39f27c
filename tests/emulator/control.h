/*
 * The control API for tests, under /emulator/ on the same listener, without JWT:
 *
 *   GET    /emulator/voiceCalls[?vendorCallKey=K]   records in creation order
 *   GET    /emulator/stats                          counters
 *   GET    /emulator/requests[?limit=N]             the last N API requests (N <= 1000)
 *   POST   /emulator/faults   {match,status,retryAfter,latencyMs,drop,count} -> {"id":N}
 *   GET    /emulator/faults                         active faults
 *   DELETE /emulator/faults                         clear them
 *   POST   /emulator/listen   {"accept":false[,"forMs":N]} | {"accept":true}
 *   POST   /emulator/omniFlow {"dialedNumber","response","status","latencyMs"}
 *   DELETE /emulator/omniFlow                       forget every configured answer
 *   POST   /emulator/connectorCalls {"org","callCenterApiName","vendorCallKey","callType",
 *                                    "phoneNumber"} -> {"voiceCallId","existing"}: what
 *                                    Salesforce does with a connector's CALL_STARTED
 *   POST   /emulator/reset                          records, stats, faults, jtis, omniFlow
 *   GET    /emulator/ping                           {"ok":true}
 */
#ifndef EMU_CONTROL_H
#define EMU_CONTROL_H

#include "tests/emulator/app.h"

void emu_control_handle(const struct emu_req *req, struct emu_reply *reply);

#endif
