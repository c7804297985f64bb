"""Mounts the configured front doors on the app: each door module's `mount(app, assistant)` adds its routes and
returns what it needs of the server (serving.doors.core.Mounted), or None when it is not configured."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from serving.doors.core import DoorServices, Mounted

DOORS = ("serving.doors.mcp", "serving.doors.slack", "serving.doors.teams")  # each with mount(app, assistant)


class Doors:
    """The doors mounted on one app."""

    def __init__(self, mounted: list[Mounted]) -> None:
        self.mounted = mounted

    @property
    def open_paths(self) -> tuple[str, ...]:
        return tuple(p for m in self.mounted for p in m.open_paths)

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """Runs what each door needs while the server runs (the MCP session manager, a Socket Mode connection)."""
        async with AsyncExitStack() as stack:
            for m in self.mounted:
                if m.lifespan is not None:
                    await stack.enter_async_context(m.lifespan())
            yield


def mount_doors(app: Any, assistant: DoorServices) -> Doors:
    """Every configured door's routes on the app (before the page, which is mounted at /)."""
    mounted = []
    for name in DOORS:
        door = importlib.import_module(name).mount(app, assistant)
        if door is not None:
            mounted.append(door)
    return Doors(mounted)
