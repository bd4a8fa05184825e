"""One kiosk per user on a PC: a second start brings the first one to the front instead of
opening another window on the same journal.

The first start listens on a local socket (a named pipe on Windows, a socket file in the
temporary folder elsewhere) whose name is derived from the user, hashed, so two people
signed in to one PC each get their own kiosk and the name does not spell out who uses it.
A second start connects, says "show" and gets None from `claim`: the caller then says that
the kiosk is already running and exits 0. The first one emits `show_requested`.

A kiosk that crashed on Linux leaves its socket file behind; nobody answers on it, so it
is taken over (Qt replaces the file when it listens user-only; should it refuse with "address
in use", the file is removed first). Windows pipes end with their process.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

APP_KEY = "iiq-kiosk"
SHOW_MESSAGE = b"show\n"
CONNECT_TIMEOUT_MS = 500


def current_user() -> str:
    """The signed-in user's name, or the numeric id where there is no name to get."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no USERNAME/LOGNAME and no passwd entry
        getuid = getattr(os, "getuid", None)
        return f"uid-{getuid()}" if getuid is not None else "unknown-user"


def server_name(name: str = APP_KEY, *, user: str | None = None) -> str:
    """The local server's name for `name` and `user` (default: this user): the same for
    every start of one user's kiosk, different for each user; the user only as a hash."""
    who = current_user() if user is None else user
    digest = hashlib.sha256(f"{name}\0{who}".encode()).hexdigest()[:24]
    return f"{APP_KEY}-{digest}"


class InstanceLock(QObject):
    """Held by the running kiosk for as long as it runs (keep a reference). Emits
    `show_requested` when another start asks this one to come to the front."""

    show_requested = Signal()

    def __init__(self, server: QLocalServer, name: str) -> None:
        super().__init__()
        self._server = server
        self._name = name
        server.setParent(self)
        server.newConnection.connect(self._on_new_connection)

    @property
    def name(self) -> str:
        """The local server's full name."""
        return self._name

    @property
    def listening(self) -> bool:
        """False when the name could not be taken at all: this kiosk runs, but a second
        start would not find it."""
        return self._server.isListening()

    def release(self) -> None:
        """Stop listening (at quit); the next start becomes the first again."""
        self._server.close()

    def _on_new_connection(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            received = bytearray()

            def read(socket: QLocalSocket = socket, received: bytearray = received) -> None:
                received.extend(bytes(socket.readAll().data()))
                if received.startswith(SHOW_MESSAGE.strip()):
                    received.clear()
                    socket.disconnectFromServer()
                    log.info("another start of the kiosk asked this one to come to the front")
                    self.show_requested.emit()
                elif len(received) > 64:  # not one of ours: drop it
                    socket.abort()

            socket.readyRead.connect(read)
            socket.disconnected.connect(read)
            socket.disconnected.connect(socket.deleteLater)
            read()


def claim(
    name: str = APP_KEY, *, user: str | None = None, timeout_ms: int = CONNECT_TIMEOUT_MS
) -> InstanceLock | None:
    """Become this user's kiosk: an InstanceLock when no other one runs (keep it), or None
    after telling the one that runs to come to the front. Needs a QCoreApplication."""
    full = server_name(name, user=user)
    if _ask_to_show(full, timeout_ms):
        return None
    server = QLocalServer()
    # Only this user may connect (socket file mode on Unix, the pipe's ACL on Windows).
    server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
    if server.listen(full):
        return InstanceLock(server, full)
    if server.serverError() == QAbstractSocket.SocketError.AddressInUseError:
        # Either another start began listening a moment ago, or a crashed kiosk left its
        # socket file behind with nobody answering on it.
        if _ask_to_show(full, timeout_ms):
            return None
        log.info("a kiosk that ended without closing left its instance name behind; taken over")
        QLocalServer.removeServer(full)
        if server.listen(full):
            return InstanceLock(server, full)
    log.warning(
        "the kiosk cannot make sure it runs only once (%s); starting anyway",
        server.errorString(),
    )
    return InstanceLock(server, full)


def _ask_to_show(full_name: str, timeout_ms: int) -> bool:
    """Whether a kiosk answers on `full_name` (and was asked to come to the front)."""
    socket = QLocalSocket()
    socket.connectToServer(full_name)
    if not socket.waitForConnected(timeout_ms):
        socket.abort()
        return False
    socket.write(SHOW_MESSAGE)
    socket.flush()
    socket.waitForBytesWritten(timeout_ms)
    socket.disconnectFromServer()
    if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
        socket.waitForDisconnected(timeout_ms)
    return True
