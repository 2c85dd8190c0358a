"""The worker's side of stream homes (``app.stream_homes``): its ``Homes`` in its event loop,
a stream's request homed elsewhere handed there, and connections handed here served as if
this worker had accepted them (``app.wsgi.WallWorker`` mixes it in)."""

from __future__ import annotations

import selectors
import time
from functools import partial

from app.stream_homes import Homes, stream_target

PAUSE_SECONDS = 1.0  # no accepting of links for this long after it failed (no descriptors)


class HomingStreams:
    homes: Homes | None = None
    home_links: set = frozenset()  # the links peers opened to this worker
    homes_paused: float | None = None  # when its listening resumes, after accepting failed
    listener_names: tuple = ()  # the worker's listeners' addresses (``listener_address``)

    def open_homes(self, path: bytes) -> None:
        """Called in the worker's process before its event loop runs."""
        if self.cfg.is_ssl:
            return  # a TLS session cannot be passed with its socket
        self.homes = Homes.open(path)
        self.home_links = set()
        if self.homes is not None:
            self.listener_names = tuple(_names(self.sockets))
            self.poller.register(self.homes, selectors.EVENT_READ, self.on_homes_readable)

    def close_homes(self) -> None:
        """When the worker stops: peers stop handing it streams (its file goes; what they
        sent it and it did not take yet is closed, and those pages reconnect)."""
        homes, self.homes = self.homes, None
        for link in list(self.home_links):
            self.end_link(link)
        if homes is not None:
            if self.homes_paused is None:
                try:
                    self.poller.unregister(homes)
                except (KeyError, ValueError, OSError):
                    pass
            homes.close()

    def homes_room(self, streams: int, most: int) -> None:
        """The worker now holds ``streams`` of its ``most`` (``Homes.room``)."""
        if self.homes is not None:
            self.homes.room(streams, most)

    def homes_resume(self) -> None:
        """From the event loop's housekeeping: listen for links again after a pause."""
        if self.homes is not None and self.homes_paused is not None and \
                time.monotonic() >= self.homes_paused:
            self.homes_paused = None
            self.poller.register(self.homes, selectors.EVENT_READ, self.on_homes_readable)

    def hand_stream(self, conn, request: bytearray) -> bool:
        """Pass ``conn`` (its request arrived whole, out of the poller) to its stream's home
        when that is another worker; True when handed (this worker is done with it). Every
        request comes here: anything but a stream's is turned away by its first bytes."""
        homes = self.homes
        if homes is None or getattr(conn, "handed_here", False):
            return False  # one hand-off at most: a connection handed here is served here
        target = stream_target(request, homes.stream_path)
        if target is None:
            return False
        home = homes.home_of(bytes(target))
        if home == homes.pid or not homes.hand(home, bytes(request), conn.sock):
            return False
        self.nr_conns -= 1
        conn.sock.close()  # the home holds the socket now: no shutdown, no goodbye
        return True

    def on_homes_readable(self, _homes) -> None:
        """A peer opened a link to this worker: connections come on it."""
        if self.homes is None:
            return
        links, failed = self.homes.accept()
        for link in links:
            self.home_links.add(link)
            self.poller.register(link, selectors.EVENT_READ,
                                 partial(self.on_link_readable, link))
        if failed:  # level-triggered: it would wake the loop again at once, in a loop
            self.poller.unregister(self.homes)
            self.homes_paused = time.monotonic() + PAUSE_SECONDS

    def end_link(self, link) -> None:
        self.home_links.discard(link)
        try:
            self.poller.unregister(link)
        except (KeyError, ValueError, OSError):
            pass
        link.close()

    def on_link_readable(self, link, _sock) -> None:
        homes = self.homes
        if homes is None:
            self.end_link(link)
            return
        passed, ended = homes.receive(link)
        if ended:
            self.end_link(link)
        for request, sock in passed:
            try:
                client, server = sock.getpeername(), sock.getsockname()
            except OSError:  # the client left meanwhile
                sock.close()
                continue
            server = listener_address(self.listener_names, server)
            conn = self.new_conn(sock, client, server)
            conn.handed_here = True
            conn.arrived = bytearray(request)
            conn.data_ready = True
            self.nr_conns += 1
            self.enqueue_req(conn)


def _names(listeners) -> list:
    """The listeners' addresses (a closed one has none: gunicorn's wrapper has no socket)."""
    names = []
    for listener in listeners:
        try:
            names.append(listener.getsockname())
        except (OSError, AttributeError):
            pass
    return names


def listener_address(listeners, local):
    """The address of the listener (of the worker's ``listeners``' addresses) a connection
    handed here came in on, which is what a connection the worker accepted itself is given
    (gunicorn's ``SERVER_NAME`` and ``SERVER_PORT``: ``0.0.0.0`` for a wildcard bind): the
    listener of that very address, else the wildcard of its family and port; the
    connection's own local address when none matches."""
    if local in listeners:
        return local
    for name in listeners:
        if (type(name) is tuple and type(local) is tuple and len(name) == len(local)
                and name[1] == local[1] and name[0] in ("0.0.0.0", "::")):
            return name
    return local
