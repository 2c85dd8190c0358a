"""Every tick stream of one screen URL in one worker (``app.stream_homes``; issue 13, item 3):
the home is chosen alike by every worker, a connection is passed with its request and
served by the home, and a home that is gone or busy leaves the stream where it landed."""

from __future__ import annotations

import os
import secrets
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from app import tv
from app.ask_stream import STREAM_PATH
from app.config import Settings
from app.screen import parse_screen
from app.stream_dirs import instance_dir, pid_space, private_dir, sweep
from app.stream_homes import Homes, rendezvous, stream_target, url_key
from app.stream_homing import HomingStreams, listener_address
from tests.servers import start_serve, stop
from tests.test_ask_stream_served import Stream

PATH = STREAM_PATH.encode()


def test_a_streams_home_is_chosen_by_its_url_without_had_in_any_order():
    a = url_key(PATH + b"?window=7d&region=EMEA&had=score.wall:0123456789abcdef")
    assert a == url_key(PATH + b"?region=EMEA&window=7d")
    assert a != url_key(PATH + b"?region=APAC&window=7d")


def test_every_worker_picks_the_same_home_and_one_gone_moves_only_its_own():
    keys = [b"/s?window=%d" % i for i in range(300)]
    pids = [101, 202, 303]
    homes = {key: rendezvous(key, pids) for key in keys}
    assert homes == {key: rendezvous(key, list(reversed(pids))) for key in keys}
    assert set(homes.values()) == set(pids)  # spread over all of them
    after = {key: rendezvous(key, [101, 303]) for key in keys}
    assert all(after[key] == home for key, home in homes.items() if home != 202)
    assert rendezvous(b"/s", []) is None


@pytest.mark.parametrize("request_bytes,target", [
    (b"GET " + PATH + b"?dwell=10 HTTP/1.1\r\nHost: x\r\n\r\n", PATH + b"?dwell=10"),
    (b"GET " + PATH + b" HTTP/1.1\r\nHost: x\r\n\r\n", PATH),
    (b"GET " + PATH + b"x?dwell=10 HTTP/1.1\r\nHost: x\r\n\r\n", None),  # another path
    (b"POST " + PATH + b" HTTP/1.1\r\nContent-Length: 0\r\n\r\n", None),
    (b"GET /api/v1/tick?dwell=10 HTTP/1.1\r\n\r\n", None),
    (b"GET " + PATH + b" HTTP/1.1\r\nContent-Length: 2\r\n\r\nab", None),  # a body
    (b"GET " + PATH + b" HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n", None),  # one behind it
    (b"GET " + PATH + b"\r\n\r\n", None),
])
def test_only_one_bodiless_get_of_the_stream_is_handed(request_bytes, target):
    assert stream_target(request_bytes, PATH) == target


def test_the_directory_must_be_this_users_alone(tmp_path):
    assert private_dir(tmp_path / "homes")
    assert (tmp_path / "homes").stat().st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    assert not private_dir(shared)
    assert Homes.open(PATH, shared) is None
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "homes")
    assert not private_dir(link)
    assert instance_dir(1234, "ab12").name == \
        f"nps-tv-streams-{os.getuid()}-{pid_space():x}-1234-ab12"
    assert pid_space() == os.stat("/proc/self/ns/pid").st_ino


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def killed_instance(parent: Path, arbiter: int, *files: str, age: float = 3600,
                    name: str | None = None) -> Path:
    """An instance directory as a killed server leaves it: its workers' socket files, with
    nothing listening on them ("file:NAME" a plain file), unchanged for ``age`` seconds."""
    directory = parent / (name or instance_dir(arbiter, secrets.token_hex(6)).name)
    assert private_dir(directory)
    for file in files:
        if file.startswith("file:"):
            (directory / file.removeprefix("file:")).write_text("not a socket")
            continue
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sock.bind(str(directory / file))
        sock.close()  # bound and closed: the file stays, a connection is refused
    os.utime(directory, (time.time() - age, time.time() - age))
    return directory


@pytest.fixture()
def tmp():
    """A short directory in /tmp: a socket's path may have 107 bytes, and pytest's tmp_path
    with an instance directory's name in it is longer."""
    path = Path(tempfile.mkdtemp(prefix="nps-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_killed_servers_directory_is_removed_when_an_instance_starts(tmp):
    gone = dead_pid()
    killed = killed_instance(tmp, gone, "101.sock", "102.full")
    empty = killed_instance(tmp, gone)  # killed before its first worker made its file
    ours = tmp / instance_dir(gone, "ours").name  # its arbiter's pid is reused: kept
    homes = [Homes.open(PATH, ours)]
    try:
        assert homes[0] is not None
        assert not killed.exists() and not empty.exists() and ours.exists()
        later = killed_instance(tmp, gone, "103.sock")
        homes.append(Homes.open(PATH, ours))  # a second worker (or one restarted) of ours
        assert homes[1] is not None and later.exists()  # the instance's first one swept
    finally:
        for home in homes:
            if home is not None:
                home.close()


def test_only_a_dead_servers_directory_is_swept(tmp):
    gone, space, uid = dead_pid(), pid_space(), os.getuid()
    binding = killed_instance(tmp, gone, "103.new")  # killed between bind and rename
    foreign = killed_instance(tmp, gone, "104.sock", "file:notes.txt")  # not ours
    plain = killed_instance(tmp, gone, "file:109.sock")  # a connection is refused too
    recent = killed_instance(tmp, gone, "105.sock", age=0)  # may be starting
    running = killed_instance(tmp, os.getpid(), "106.sock")  # its arbiter runs
    listening = killed_instance(tmp, gone, "107.sock")
    (listening / "107.sock").unlink()
    live = Homes(listening, 107, PATH)  # a worker listens in it
    os.utime(listening, (time.time() - 3600, time.time() - 3600))
    shared = killed_instance(tmp, gone, "108.sock")
    shared.chmod(0o755)  # not private: not a directory these workers made
    # Another user's name, and another PID namespace's (a container sharing /tmp, whose pids
    # mean nothing here): otherwise like the swept ones.
    other_user = killed_instance(tmp, gone, "110.sock",
                                 name=f"nps-tv-streams-{uid + 1}-{space:x}-{gone}-x")
    other_space = killed_instance(tmp, gone, "111.sock",
                                  name=f"nps-tv-streams-{uid}-{space + 1:x}-{gone}-x")
    # Names anyone may make in /tmp, with pids int() or the kernel refuse: nothing raised.
    for odd in ("99999999999", "\u00b2", "12x", ""):
        (tmp / f"nps-tv-streams-{uid}-{space:x}-{odd}-x").write_text("")
    try:
        assert sweep(tmp) == 1 and not binding.exists()
        for kept in (foreign, plain, recent, running, listening, shared, other_user,
                     other_space):
            assert kept.exists(), kept
        assert len(list(tmp.glob("nps-tv-streams-*"))) == 8 + 4
        live.sock.close()  # now killed: nothing listens
        assert sweep(tmp, keep=listening) == 0 and listening.exists()
        assert sweep(tmp) == 1 and not listening.exists()
    finally:
        live.sock.close()


def connected_pair() -> tuple[socket.socket, socket.socket]:
    """A TCP connection on 127.0.0.1: (the client's end, the server's)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return client, server


def test_a_connection_is_passed_with_its_request_and_stays_open(tmp_path):
    directory = tmp_path / "homes"
    assert private_dir(directory)
    here, home = Homes(directory, os.getpid(), PATH), Homes(directory, os.getppid(), PATH)
    try:
        assert here.live_peers() == sorted({os.getpid(), os.getppid()})
        client, server = connected_pair()
        request = b"GET " + PATH + b"?dwell=10 HTTP/1.1\r\n\r\n"
        assert here.hand(home.pid, request, server)
        server.close()  # the worker forgets it: the connection lives on in the home
        (link,), failed = home.accept()
        assert not failed
        (got, sock), = home.receive(link)[0]
        assert got == request
        sock.sendall(b"served by its home")
        assert client.recv(100) == b"served by its home"
        assert home.receive(link) == ([], False)
        here.close()  # the peer stops: its link ends
        assert home.receive(link) == ([], True)
        sock.close()
        client.close()
        link.close()
    finally:
        here.close()
        home.close()
    assert not directory.exists()  # the last one out removed it


class Worker(HomingStreams):
    """A worker's side of stream homes without the worker: its selector, no listeners."""

    def __init__(self, homes: Homes):
        self.poller, self.homes, self.home_links = selectors.DefaultSelector(), homes, set()
        self.sockets = []


def test_a_home_stopping_with_connections_still_on_its_links_closes_them(tmp_path):
    """A home that stops before reading what was passed to it (a graceful stop with hand-offs
    in flight), on a link it accepted and on one it had not yet: each such connection ends
    (its page reconnects to a worker that runs), none is left open with nobody serving it,
    and the workers that handed them go on."""
    directory = tmp_path / "homes"
    assert private_dir(directory)
    home = Homes(directory, os.getppid(), PATH)
    here, there = Homes(directory, os.getpid(), PATH), Homes(directory, 1, PATH)
    worker = Worker(home)
    pairs = [connected_pair() for _ in range(4)]
    try:
        for _, server in pairs[:2]:
            assert here.hand(home.pid, b"GET " + PATH + b" HTTP/1.1\r\n\r\n", server)
        worker.on_homes_readable(home)  # here's link: accepted, nothing read from it
        assert len(worker.home_links) == 1
        for _, server in pairs[2:]:  # there's link: still in the backlog
            assert there.hand(home.pid, b"GET " + PATH + b" HTTP/1.1\r\n\r\n", server)
        for _, server in pairs:
            server.close()  # the handing workers forget them
        worker.close_homes()
        assert worker.homes is None and not worker.home_links
        for client, _ in pairs:
            client.settimeout(5)
            assert client.recv(100) == b""  # closed: no descriptor of it is left anywhere
        pairs.append(connected_pair())
        assert not here.hand(home.pid, b"GET " + PATH + b" HTTP/1.1\r\n\r\n", pairs[-1][1])
        assert home.pid not in here.live_peers()  # gone: the stream stays here
    finally:
        for client, server in pairs:
            client.close()
            server.close()
        for homes in (here, there, home):
            homes.close()


def test_a_handed_connection_gets_the_address_of_the_listener_it_came_in_on(tmp_path):
    """As a connection the home accepted itself would (gunicorn gives the listener's address:
    ``SERVER_NAME`` 0.0.0.0 for a wildcard bind), not the socket's own local address."""
    with socket.create_server(("0.0.0.0", 0)) as wildcard, \
            socket.create_server(("127.0.0.1", 0)) as other, \
            socket.socket(socket.AF_UNIX) as unix:
        port = wildcard.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        server, _ = wildcard.accept()
        unix.bind(str(tmp_path / "gunicorn.sock"))
        unix.listen()
        names = [s.getsockname() for s in (other, unix, wildcard)]
        try:
            local = server.getsockname()
            assert local == ("127.0.0.1", port)
            assert listener_address(names, local) == ("0.0.0.0", port)
            assert listener_address(names[:1], local) == local  # no listener of its port
            assert listener_address(names[:2], str(tmp_path / "gunicorn.sock")) == \
                str(tmp_path / "gunicorn.sock")
        finally:
            client.close()
            server.close()
    # Both a wildcard and the very address listening (reuse_port): the kernel gave it to the
    # latter, in whatever order they are listed.
    for names in ([("0.0.0.0", 80), ("127.0.0.1", 80)], [("127.0.0.1", 80), ("0.0.0.0", 80)]):
        assert listener_address(names, ("127.0.0.1", 80)) == ("127.0.0.1", 80)
    v6 = [("::", 80, 0, 0), ("0.0.0.0", 81)]
    assert listener_address(v6, ("::ffff:127.0.0.1", 80, 0, 0)) == ("::", 80, 0, 0)
    assert listener_address(v6, ("::1", 81, 0, 0)) == ("::1", 81, 0, 0)  # another family


def test_a_home_that_is_gone_leaves_the_stream_here(tmp_path):
    directory = tmp_path / "homes"
    assert private_dir(directory)
    here, gone = Homes(directory, os.getpid(), PATH), Homes(directory, os.getppid(), PATH)
    gone.sock.close()  # died without removing its file
    client, server = connected_pair()
    try:
        assert os.getppid() in here.live_peers()
        assert not here.hand(gone.pid, b"GET " + PATH + b" HTTP/1.1\r\n\r\n", server)
        assert here.live_peers() == [os.getpid()] and not gone.path.exists()
        assert not here.hand(os.getpid() + 10**6, b"GET / HTTP/1.1\r\n\r\n", server)
        server.sendall(b"still here")
        assert client.recv(100) == b"still here"
    finally:
        client.close()
        server.close()
        here.close()


def test_a_worker_near_its_most_streams_is_no_home_until_it_has_room(tmp_path):
    """Peers stop handing it streams (they keep those they accept), so a fleet showing one
    screen still has every worker's streams; it is a home again once streams ended."""
    directory = tmp_path / "homes"
    assert private_dir(directory)
    here, home = Homes(directory, os.getpid(), PATH), Homes(directory, os.getppid(), PATH)
    client, server = connected_pair()
    try:
        home.room(1000, 2048)
        assert here.live_peers() == sorted({here.pid, home.pid})
        home.room(1792, 2048)  # seven eighths
        assert here.live_peers() == [here.pid]
        assert here.home_of(b"/s?window=7d") == here.pid
        assert not here.hand(home.pid, b"GET " + PATH + b" HTTP/1.1\r\n\r\n", server)
        home.room(1600, 2048)  # room, but not yet three quarters: still full
        assert here.live_peers() == [here.pid]
        home.room(1535, 2048)
        assert here.live_peers() == sorted({here.pid, home.pid})
    finally:
        client.close()
        server.close()
        here.close()
        home.close()
    assert not directory.exists()  # the last one out removed it


def test_a_home_takes_only_a_stream_request_and_only_from_a_sibling_worker(tmp_path):
    """What comes on a link is checked again (one client socket with a whole stream request),
    and a link from a process that is not a worker of this instance is refused."""
    directory = tmp_path / "homes"
    assert private_dir(directory)
    here, home = Homes(directory, os.getpid(), PATH), Homes(directory, os.getppid(), PATH)
    client, server = connected_pair()
    try:
        assert here.hand(home.pid, b"GET /api/v1/responses HTTP/1.1\r\n\r\n", server)
        (link,), _ = home.accept()
        assert home.receive(link) == ([], False) and home.received == 0
        link.close()
        # A child of this process is this user's, but not a sibling of the home's.
        code = ("import array, socket, sys; s = socket.socket(socket.AF_UNIX, "
                "socket.SOCK_SEQPACKET); s.connect(sys.argv[1]); s.sendmsg([sys.argv[2]."
                "encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [0]))])")
        subprocess.run([sys.executable, "-c", code, str(home.path),
                        f"GET {STREAM_PATH} HTTP/1.1\r\n\r\n"], check=True, timeout=30)
        assert home.accept() == ([], False) and home.refused == 1
    finally:
        client.close()
        server.close()
        here.close()
        home.close()


def test_a_busy_home_leaves_the_stream_here(tmp_path):
    """A home whose queue is full (it has not read for a while) is not waited for."""
    directory = tmp_path / "homes"
    assert private_dir(directory)
    here, home = Homes(directory, os.getpid(), PATH), Homes(directory, os.getppid(), PATH)
    client, server = connected_pair()
    try:
        results = [here.hand(home.pid, b"GET " + PATH + b" HTTP/1.1\r\n\r\n", server)
                   for _ in range(2000)]
        assert results[0] and not results[-1]
        assert here.kept >= 1 and here.handed == results.count(True)
        for link in home.accept()[0]:
            for _, sock in home.receive(link)[0]:
                sock.close()
            link.close()
    finally:
        client.close()
        server.close()
        here.close()
        home.close()


# -- on a real server ----------------------------------------------------------------------

def worker_pids(arbiter: int) -> list[int]:
    children = Path(f"/proc/{arbiter}/task/{arbiter}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def holder(client: socket.socket, pids: list[int]) -> int | None:
    """The worker holding the server's end of ``client``'s connection (from /proc)."""
    local = client.getsockname()[1]
    server_port = client.getpeername()[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        here, there = fields[1].split(":")[1], fields[2].split(":")[1]
        if int(here, 16) == server_port and int(there, 16) == local:
            inode = fields[9]
    if inode is None:
        return None
    held = [pid for pid in pids for fd in os.listdir(f"/proc/{pid}/fd")
            if _link(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]"]
    return held[0] if len(held) == 1 else None


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def served_dir(arbiter: int) -> Path:
    found = sorted(Path(tempfile.gettempdir()).glob(
        f"nps-tv-streams-{os.getuid()}-{pid_space():x}-{arbiter}-*"))
    assert len(found) <= 1, found
    return found[0] if found else Path("/nonexistent")


def port_sockets(pid: int, port: int) -> int:
    """How many connections to ``port`` (not its listening socket) ``pid`` holds."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] != "0A":  # not LISTEN
            inodes.add(f"socket:[{fields[9]}]")
    return sum(_link(f"/proc/{pid}/fd/{fd}") in inodes for fd in os.listdir(f"/proc/{pid}/fd"))


def homed_screens(pids: list[int], each: int = 3) -> dict[int, list[str]]:
    """``each`` screen URLs homed in each worker (chosen as the workers choose)."""
    found: dict[int, list[str]] = {pid: [] for pid in pids}
    for days in range(1, 400):
        query = f"dwell=10&window={days}d"
        home = rendezvous(url_key(f"{STREAM_PATH}?{query}".encode()), pids)
        if len(found[home]) < each:
            found[home].append(query)
        if all(len(queries) == each for queries in found.values()):
            return found
    raise AssertionError(found)


@pytest.fixture()
def two_workers(tmp_path):
    """``nps-tv serve`` with two workers, both listening for handed streams: (server
    process, port, worker pids)."""
    proc, port = start_serve(tmp_path, ACCESS="open", POLL_SECONDS="1", ASK_STREAM="true",
                             WORKERS="2")
    try:
        deadline = time.monotonic() + 20  # the second worker may boot after /health answers
        while len(pids := worker_pids(proc.pid)) < 2 or \
                len(list(served_dir(proc.pid).glob("*.sock"))) < 2:
            assert time.monotonic() < deadline, f"the workers' homes did not appear: {pids}"
            time.sleep(0.05)
        assert len(pids) == 2
        yield proc, port, pids
    finally:
        stop(proc)
    assert not served_dir(proc.pid).exists()  # the last worker out removed it


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(),
                    reason="finds which worker holds a connection in Linux's /proc")
def test_on_a_real_server_each_screens_streams_are_held_by_its_home(two_workers):
    proc, port, pids = two_workers
    homes = homed_screens(pids)
    for _ in range(2):
        streams = {(home, query): [Stream(port, query) for _ in range(5)]
                   for home, queries in homes.items() for query in queries}
        # A stream reopened naming the page's parts (``had``) goes to the same home.
        home, query = next(iter(streams))
        names = tv.PAGE.part_names(parse_screen(dict(parse_qsl(query)), Settings()))
        had = ",".join(f"{name}:0123456789abcdef" for name in names)
        streams[home, query].append(Stream(port, f"{query}&had={had}"))
        for opened in streams.values():
            for stream in opened:
                assert stream.status == 200 and "stamp" in stream.next_event(10)
        held = {key: {holder(s.sock, pids) for s in opened} for key, opened in streams.items()}
        assert all(found == {key[0]} for key, found in held.items()), held
        for opened in streams.values():
            for stream in opened:
                stream.close()
        # Every descriptor passed was closed where it was passed from and, once the page
        # left, where it was served: no worker holds a connection of this port any more.
        deadline = time.monotonic() + 10
        while held := {pid: n for pid in pids if (n := port_sockets(pid, port))}:
            assert time.monotonic() < deadline, held
            time.sleep(0.1)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(),
                    reason="finds which worker holds a connection in Linux's /proc")
def test_a_connection_handed_once_is_served_where_it_was_handed(two_workers):
    """A stream's request refused by its home (a malformed ``had``: 400) leaves the
    connection alive there; the next request on it, a stream homed in the other worker, is
    served there too: a connection is handed once, never back and forth."""
    proc, port, pids = two_workers
    homes = homed_screens(pids, each=1)
    for _ in range(40):  # until the connection lands on the worker that is not the home
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        deadline = time.monotonic() + 5
        while (accepted := holder(sock, pids)) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        there = [pid for pid in pids if pid != accepted]
        if accepted in pids:
            break
        sock.close()
    else:
        raise AssertionError("no connection was seen accepted")
    first, second = homes[there[0]][0], homes[accepted][0]
    sock.sendall(f"GET {STREAM_PATH}?{first}&had=nonsense HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(65536)
    assert head.split()[1] == b"400", head
    assert holder(sock, pids) == there[0]  # handed to the first screen's home
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    body = head.split(b"\r\n\r\n", 1)[1]
    while len(body) < length:
        body += sock.recv(65536)
    sock.sendall(f"GET {STREAM_PATH}?{second} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(65536)
    assert head.split()[1] == b"200", head
    assert holder(sock, pids) == there[0]  # not handed again, to the second screen's home
    sock.close()
