"""The one publisher: committed events go to the Socket.IO rooms allowed to see them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask_socketio import SocketIO

from command.events import PublishedEvent, rooms_for

NAMESPACE = "/hub"


class SocketIOPublisher:
    """Emits each event once to the union of its rooms (a client in two rooms gets it once);
    with a message queue configured, every hub process delivers it to its own clients."""

    def __init__(self, socketio: SocketIO, ancestors: Callable[[int | None], list[int]]) -> None:
        self.socketio = socketio
        self.ancestors = ancestors

    def publish(self, events: Sequence[PublishedEvent]) -> None:
        for ev in events:
            rooms = rooms_for(ev, self.ancestors(ev.county_id))
            self.socketio.emit("event", ev.payload(), to=rooms, namespace=NAMESPACE)
