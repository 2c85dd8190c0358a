"""Every tick stream of one screen URL in one worker (issue 13, item 3: views computed once per
distinct request, not once per worker).

A worker's stream hub makes each screen's pushed answer once a change for all the streams it
holds of that screen (``app.ask_stream``), but the streams of one screen land on whichever
worker accepted their connection, so with two workers every screen with a few streams had its
view, parts and answer made in both: 1,000 told screens on 100 filters cost 0.08-0.09 ms of
server CPU a screen a second on two workers against 0.04 on one (``bench_viewers --screens
1000 --distinct 100``).

So each stream has a home: the worker chosen for its URL (its query without ``had``, which
differs between reconnects) by rendezvous hashing over the instance's live workers, so a
worker that goes away moves only its own URLs. A worker that collected a stream's request
for a URL homed elsewhere passes the client's socket and the request's bytes to the home
(``SCM_RIGHTS`` over a ``SOCK_SEQPACKET`` link it keeps to each peer) and forgets the
connection; the home serves the request as if it had accepted it, through its own app (the
gate, the scope). When the home cannot take it (gone, busy, near its most streams) the worker
serves it itself, as before. ``app.stream_homing`` is the worker's side.

The workers' sockets are files in a directory of the instance (``app.stream_dirs``: named by
the gunicorn arbiter's pid and a random part drawn in the arbiter before it forks: instances
whose arbiters have one pid, in containers sharing /tmp, keep apart) that only this user may
enter, and a link is
taken only from a sibling worker (``SO_PEERCRED``: this user, this arbiter's child), whose
messages are checked again. TLS (gunicorn's own) has state a socket cannot carry: such
streams stay where they land. Several instances each keep their own homes.
"""

from __future__ import annotations

import array
import errno
import hashlib
import logging
import os
import socket
import struct
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from app.ask_stream import HAD
from app.departure import queued
from app.stream_dirs import (
    FULL_SUFFIX,
    NEW_SUFFIX,
    SUFFIX,
    alive,
    instance_dir,
    parent_of,
    private_dir,
    sweep,
)

log = logging.getLogger(__name__)

# The most a handed request may hold: a stream's GET is a few hundred bytes (a cookie more).
REQUEST_MAX = 32 * 1024
LINKS_BACKLOG = 64  # peers connecting at once (one link each)
# What a link may hold unread before its home counts as busy: some 170 requests (768 bytes a
# message, as the kernel counts them), below the link's own limit (its send buffer, about
# 277). A fleet opening at once hands hundreds in a second, which a home reads within
# milliseconds; at 8 KB (ten), most of 1,000 streams opening together stayed where they
# landed. A stuck worker takes that many of its screens' streams until the arbiter kills it.
LINK_UNREAD_MAX = 128 * 1024
RELIST_SECONDS = 2.0  # the peers are listed again at least this often (and when they change)
# A peer that is gone: its link refused, reset or closed, its file removed.
GONE = (ConnectionRefusedError, FileNotFoundError, BrokenPipeError, ConnectionResetError)
STREAM_FAMILIES = (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX)
def url_key(target: bytes) -> bytes:
    """What a stream request's home is chosen by: its path and query, ``had`` left out and
    the rest in order."""
    url = urlsplit(target.decode("latin-1"))
    query = sorted((k, v) for k, v in parse_qsl(url.query, keep_blank_values=True) if k != HAD)
    return f"{url.path}?{urlencode(query)}".encode()


def rendezvous(key: bytes, pids: list[int]) -> int | None:
    """The pid among ``pids`` with the highest hash of (``key``, pid): every worker picks the
    same one, and removing a pid moves only the keys it had."""
    if not pids:
        return None
    return max(pids, key=lambda pid: hashlib.blake2b(key + b"|%d" % pid, digest_size=8).digest())


def stream_target(request: bytes | bytearray, path: bytes) -> bytes | bytearray | None:
    """The target of ``request`` when it is exactly one bodiless GET of ``path`` (with its
    query), else None."""
    if not request.startswith(b"GET " + path):
        return None
    end = request.find(b"\r\n\r\n")
    if end != len(request) - 4:
        return None  # a body, or more requests behind it
    parts = request[:request.find(b"\r\n")].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return None
    target = parts[1]
    return target if target == path or target.startswith(path + b"?") else None


class Homes:
    """One worker's end: its listening socket in the instance's directory, the live peers, a
    link (a connected socket) to each peer it handed a connection to, and the passing and
    receiving of connections. Links are ``SOCK_SEQPACKET``: a datagram socket's queue holds
    10 messages (``net.unix.max_dgram_qlen``), which a fleet's streams opening together
    overflow; a link's holds what its send buffer does (some hundreds)."""

    def __init__(self, directory: Path, pid: int | None = None, path: bytes = b""):
        self.directory, self.stream_path = directory, path
        self.pid = os.getpid() if pid is None else pid
        self.path = directory / f"{self.pid}{SUFFIX}"
        self._remove_files()  # a killed worker's with this pid
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.sock.setblocking(False)
            # Listening before its name appears: a peer connecting between bind and listen
            # would be refused and take it for a dead worker's file.
            self.sock.bind(str(self.path.with_suffix(NEW_SUFFIX)))
            self.sock.listen(LINKS_BACKLOG)
            os.rename(self.path.with_suffix(NEW_SUFFIX), self.path)
        except BaseException:
            self.sock.close()
            raise
        self.links: dict[int, socket.socket] = {}  # to peers, by pid
        self.full = False  # its file renamed (FULL_SUFFIX): peers hand it nothing for now
        self.peers: list[int] = [self.pid]
        self.listed: tuple[int, float] | None = None  # the directory's change time, and when
        self.handed = self.received = self.kept = self.refused = 0  # counts, for tests

    @classmethod
    def open(cls, path: bytes, directory: Path | None = None) -> Homes | None:
        """This worker's homes for streams of ``path``, or None where they cannot be (no
        Unix sockets, the directory not private): the worker then keeps every stream."""
        directory = instance_dir() if directory is None else directory
        if not hasattr(socket, "SCM_RIGHTS"):
            log.warning("streams stay in the worker that accepted them: no SCM_RIGHTS here")
            return None
        first = not os.path.lexists(directory)  # the instance's first worker
        if not private_dir(directory):
            log.warning("streams stay in the worker that accepted them: %s is not private",
                        directory)
            return None
        if first:  # once an instance, not at every worker's restart
            try:
                sweep(directory.parent, keep=directory)
            except Exception:  # a stale directory left is no reason not to start
                log.exception("could not sweep killed servers' stream homes")
        try:
            return cls(directory, path=path)
        except OSError as exc:
            log.warning("streams stay in the worker that accepted them: %s", exc)
            return None

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        for link in self.links.values():
            link.close()
        self.links.clear()
        self.sock.close()
        self._remove_files()
        try:
            self.directory.rmdir()  # the last worker out; others' files keep it otherwise
        except OSError:
            pass

    def _remove_files(self) -> None:
        """This worker's socket file, under any of its names."""
        for suffix in (SUFFIX, FULL_SUFFIX, NEW_SUFFIX):
            self.path.with_suffix(suffix).unlink(missing_ok=True)

    def room(self, streams: int, most: int) -> None:
        """With ``streams`` held of the ``most`` a worker keeps, take hand-offs or not: at
        seven eighths a worker renames its file, so peers keep the streams they accept (all
        of one screen's streams in one worker would otherwise cap a one-screen fleet at one
        worker's streams), and renames it back below three quarters."""
        full = streams >= most * 7 // 8 or (self.full and streams >= most * 3 // 4)
        if full == self.full:
            return
        try:
            if full:
                os.rename(self.path, self.path.with_suffix(FULL_SUFFIX))
            else:
                os.rename(self.path.with_suffix(FULL_SUFFIX), self.path)
        except OSError as exc:
            log.warning("stream home %s: %s", self.path, exc)
            return
        self.full = full

    def live_peers(self) -> list[int]:
        """The pids of the instance's workers that take streams, this one always among
        them: listed again when the directory changed (a worker came, went or filled up)
        and every ``RELIST_SECONDS`` (a change within one tick of its clock looks like none)."""
        try:
            changed = os.stat(self.directory).st_mtime_ns
        except OSError:
            changed = -1
        now = time.monotonic()
        if self.listed is None or changed != self.listed[0] or \
                now - self.listed[1] >= RELIST_SECONDS:
            self.listed = (changed, now)
            found = {self.pid}
            try:
                names = os.listdir(self.directory)
            except OSError:
                names = []
            for name in names:
                stem = name.removesuffix(SUFFIX)
                if name.endswith(SUFFIX) and stem.isdigit() and alive(int(stem)):
                    found.add(int(stem))
            self.peers = sorted(found)
        return self.peers

    def home_of(self, target: bytes) -> int:
        """The pid of the worker that holds the streams of ``target`` (a request target)."""
        return rendezvous(url_key(target), self.live_peers()) or self.pid

    def hand(self, pid: int, request: bytes, sock: socket.socket) -> bool:
        """Pass a connection whose request (all of ``request``) arrived here to worker
        ``pid``; False when it cannot take it now (then the caller serves it). A peer that
        is gone leaves the list at once."""
        if len(request) > REQUEST_MAX:
            return False
        try:
            link = self.links.get(pid) or self._link(pid)
            if (queued(link) or 0) > LINK_UNREAD_MAX:  # sent, not yet read by the home
                self.kept += 1
                return False  # it has not read what it was passed: busy or stuck
            link.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                      array.array("i", [sock.fileno()]))])
        except GONE as exc:
            self.kept += 1
            log.info("stream home %d is gone (%s): serving here", pid, exc)
            self.peers = [p for p in self.peers if p != pid]
            self.listed = None  # and list again next time
            gone = self.links.pop(pid, None)
            if gone is not None:
                gone.close()
            if isinstance(exc, ConnectionRefusedError):  # its file outlived it
                self.path.with_name(f"{pid}{SUFFIX}").unlink(missing_ok=True)
            return False
        except OSError:  # busy (a full link, no buffers): it stays a peer
            self.kept += 1
            return False
        self.handed += 1
        return True

    def _link(self, pid: int) -> socket.socket:
        link = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        link.setblocking(False)
        try:
            link.connect(str(self.path.with_name(f"{pid}{SUFFIX}")))
        except BaseException:
            link.close()
            raise
        self.links[pid] = link
        return link

    def accept(self) -> tuple[list[socket.socket], bool]:
        """The links sibling workers opened to this one since the last call (others are
        closed at once), and whether accepting failed (out of descriptors: the caller stops
        listening for a while rather than being woken for it in a loop)."""
        out = []
        while True:
            try:
                link, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return out, False
            except OSError as exc:
                log.warning("could not accept a stream home link: %s", exc)
                return out, exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS,
                                          errno.ENOMEM)
            if not sibling(link):
                self.refused += 1
                log.warning("refused a stream home link from a process not of this instance")
                link.close()
                continue
            link.setblocking(False)
            out.append(link)

    def receive(self, link: socket.socket) -> tuple[list[tuple[bytes, socket.socket]], bool]:
        """The connections passed on ``link`` since the last call, each with its request's
        bytes; and whether the link ended (its peer stopped)."""
        out = []
        while True:
            try:
                data, ancillary, flags, _ = link.recvmsg(
                    REQUEST_MAX, socket.CMSG_SPACE(4 * array.array("i").itemsize),
                    socket.MSG_CMSG_CLOEXEC)
            except (BlockingIOError, InterruptedError):
                return out, False
            except OSError:
                return out, True
            fds = passed_fds(ancillary)
            if not data and not fds:
                return out, True  # the end of the link
            sock = self.take(data, fds, flags)
            if sock is not None:
                self.received += 1
                out.append((data, sock))

    def take(self, data: bytes, fds: list[int], flags: int) -> socket.socket | None:
        """The client socket of one message, when it is one: one descriptor of a stream
        socket, with the whole request of a stream (checked again here); else None, and
        whatever came is closed."""
        sock = None
        if len(fds) == 1 and not flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) and \
                stream_target(data, self.stream_path) is not None:
            try:
                sock = socket.socket(fileno=fds.pop())
            except OSError:
                sock = None
            if sock is not None and (sock.type != socket.SOCK_STREAM
                                     or sock.family not in STREAM_FAMILIES):
                sock.close()
                sock = None
        if sock is None:
            log.warning("dropped a malformed stream hand-off (%d bytes, %d descriptors)",
                        len(data), len(fds))
        for fd in fds:
            os.close(fd)
        return sock


def passed_fds(ancillary: list) -> list[int]:
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    return list(fds)


def sibling(link: socket.socket) -> bool:
    """Whether the peer of ``link`` is a worker of this instance: this user's process whose
    parent is this worker's (the arbiter)."""
    try:
        pid, uid, _gid = struct.unpack("3i", link.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    except OSError:
        return False
    return uid == os.getuid() and parent_of(pid) == os.getppid()
