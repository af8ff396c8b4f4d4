"""The embedded default's broker never shows a reader a message or an exchange table that is
still being written (kombu's own filesystem transport does: a worker that read an empty message
file at start-up died on the JSON error, in CI)."""

from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection

from mintmark import filesystem_broker


@pytest.fixture
def channel(tmp_path):
    connection = Connection(
        "filesystem://localhost//",
        transport=filesystem_broker.TRANSPORT,
        transport_options=filesystem_broker.transport_options(tmp_path),
    )
    channel = connection.channel()
    yield channel
    connection.release()


def test_a_message_being_written_is_not_taken(channel, monkeypatch):
    seen_mid_write = []
    replace = filesystem_broker.os.replace

    def replace_after_a_read(source, target):
        try:
            channel._get("gpu")
        except Empty:
            seen_mid_write.append("nothing")
        replace(source, target)

    monkeypatch.setattr(filesystem_broker.os, "replace", replace_after_a_read)
    channel._put("gpu", {"body": "whole"})
    assert seen_mid_write == ["nothing"]
    assert channel._get("gpu") == {"body": "whole"}
    with pytest.raises(Empty):
        channel._get("gpu")


def test_every_message_is_delivered_once_and_no_partial_file_stays(channel):
    for index in range(5):
        channel._put("gates", {"index": index})
    # Names start with the millisecond, as kombu's do: within one, the order is not kept.
    assert sorted(channel._get("gates")["index"] for _ in range(5)) == [0, 1, 2, 3, 4]
    with pytest.raises(Empty):
        channel._get("gates")
    assert list(Path(channel.data_folder_in).iterdir()) == []


def test_a_new_exchange_table_is_never_seen_empty(channel, monkeypatch):
    tables_mid_create = []
    link = filesystem_broker.os.link

    def link_after_a_read(source, target):
        tables_mid_create.append(channel.get_table("celery.pidbox"))
        link(source, target)

    monkeypatch.setattr(filesystem_broker.os, "link", link_after_a_read)
    channel._queue_bind("celery.pidbox", "", "", "worker-a.reply")
    assert tables_mid_create == [[]]  # not there yet: no table, not a broken one
    channel._queue_bind("celery.pidbox", "", "", "worker-b.reply")
    queues = {entry.queue for entry in channel.get_table("celery.pidbox")}
    assert queues == {"worker-a.reply", "worker-b.reply"}
    assert not [p for p in channel.control_folder.iterdir() if p.name.endswith(".part")]
