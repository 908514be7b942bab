# A chat room on Python's `websockets` (Debian's python3-websockets), for the scenario runner's tests: a second,
# independent peer that two connections talk through. On connect it sends {"type": "welcome", "id": "py-<n>"};
# {"type": "say", "text": …} goes to every other client as {"type": "said", "from": id, "text": …};
# "close:<code>:<reason>" closes the sender's connection with them. Prints {"listening": port} once ready.
# Usage: /usr/bin/python3 websocketsChat.py
import asyncio
import itertools
import json

import websockets

clients = {}
ids = itertools.count(1)


async def handler(ws, path=None):
    me = f"py-{next(ids)}"
    clients[ws] = me
    try:
        await ws.send(json.dumps({"type": "welcome", "id": me}))
        async for msg in ws:
            if isinstance(msg, str) and msg.startswith("close:"):
                _, code, reason = msg.split(":", 2)
                await ws.close(int(code), reason)
                break
            try:
                m = json.loads(msg)
            except (TypeError, ValueError):
                continue
            if isinstance(m, dict) and m.get("type") == "say":
                out = json.dumps({"type": "said", "from": me, "text": m.get("text")})
                for other in list(clients):
                    if other is not ws:
                        await other.send(out)
    finally:
        clients.pop(ws, None)


async def main():
    async with websockets.serve(handler, "127.0.0.1", 0) as server:
        print(json.dumps({"listening": server.sockets[0].getsockname()[1]}), flush=True)
        await asyncio.Future()


asyncio.run(main())
