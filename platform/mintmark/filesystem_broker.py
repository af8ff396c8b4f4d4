"""kombu's filesystem transport (the embedded default's broker) with writes that no reader sees
half done. kombu creates a message file and then writes it, and creates an exchange's table
the same way, so a worker listing the folder at that moment reads an empty file, fails to
decode it and dies: seen as a worker that exited during start-up on the embedded default.
Here a message is written beside the queue under a name no queue matches and renamed into
place, and a new exchange table appears already holding a valid (empty) table."""

import os
import uuid
from pathlib import Path
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

PARTIAL = ".part"  # `_get` takes names ending in "<queue>.msg" only


TRANSPORT = "mintmark.filesystem_broker:Transport"


def transport_options(folder: Path) -> dict:
    """The transport's folders under `folder` (created): one queue folder that producers write
    and workers read, kombu's processed folder (unused: messages are deleted once read) and the
    control folder of exchange tables."""
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }


def _written_beside(path: Path, data: bytes) -> Path:
    """`data` in a new file beside `path`, under a name no reader takes."""
    partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}{PARTIAL}")
    partial.write_bytes(data)
    return partial


def write_atomically(path: Path, data: bytes) -> None:
    os.replace(_written_beside(path, data), path)


def create_once(path: Path, data: bytes) -> None:
    """Creates `path` holding `data` unless it exists: another process's file is never
    replaced, and no process sees it before it is whole."""
    partial = _written_beside(path, data)
    try:
        os.link(partial, path)
    except FileExistsError:
        pass
    finally:
        partial.unlink()


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # kombu's name: milliseconds first, so that `_get`'s sort takes older messages first.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        try:
            write_atomically(Path(self.data_folder_out) / name, str_to_bytes(dumps(payload)))
        except OSError as exc:
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        create_once(file, str_to_bytes(dumps([])))
        # The table exists now, so kombu takes its locked read-modify-write path.
        super()._queue_bind(exchange, routing_key, pattern, queue)


class Transport(filesystem.Transport):
    Channel = Channel
