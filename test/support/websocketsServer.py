# A Python `websockets` server with its default options (permessage-deflate on, a ping every 20 s, 20 s to answer):
# the target of the proxy tests that need a stack other than ws. It echoes every message, and prints one JSON line on
# stdout per event: {"listening": port}, {"open": path}, {"message": text} or {"binary": hex}, {"close": code, "reason": r}.
# A text message "close:<code>:<reason>" makes it close the connection with that code and reason instead.
# Usage: /usr/bin/python3 websocketsServer.py [ping_interval seconds | default]
import asyncio
import json
import sys

import websockets


def emit(event):
    print(json.dumps(event), flush=True)


async def handler(ws, path=None):
    emit({"open": ws.path, "extensions": ws.response_headers.get("Sec-WebSocket-Extensions")})
    try:
        async for msg in ws:
            if isinstance(msg, str) and msg.startswith("close:"):
                _, code, reason = msg.split(":", 2)
                await ws.close(int(code), reason)
                break
            emit({"message": msg} if isinstance(msg, str) else {"binary": msg.hex()})
            await ws.send(msg)
    finally:
        emit({"close": ws.close_code, "reason": ws.close_reason})


async def main():
    kwargs = {}
    if len(sys.argv) > 1 and sys.argv[1] != "default":
        kwargs["ping_interval"] = float(sys.argv[1])
    async with websockets.serve(handler, "127.0.0.1", 0, **kwargs) as server:
        emit({"listening": server.sockets[0].getsockname()[1]})
        await asyncio.Future()


asyncio.run(main())
