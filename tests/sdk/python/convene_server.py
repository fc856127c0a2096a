"""A throwaway convene-server for the SDK tests: started on a free loopback port with its own data
directory and admin token, and participants that join its meetings over the signalling WebSocket
and stay (so that a meeting has a live session). Standard library only."""

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LIVE_PEER = ROOT / "scripts" / "schemathesis" / "live_peer.py"


class ConveneServer:
    """One convene-server process: `url`, `account`, `app` (the ready app) and an admin `token`."""

    def __init__(self) -> None:
        self.binary = os.environ.get("CONVENE_SERVER", str(ROOT / "target" / "debug" / "convene-server"))
        self.work = tempfile.TemporaryDirectory(prefix="convene-sdk-")
        data = os.path.join(self.work.name, "data")
        self.token = subprocess.run(
            [self.binary, "token", "create", "--scope", "admin", "--all-accounts", "--data", data],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        env = {k: v for k, v in os.environ.items() if k != "CONVENE_ADMIN_TOKEN"} | {"NO_COLOR": "1"}
        self.log_path = os.path.join(self.work.name, "server.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [self.binary, "--listen", "127.0.0.1:0", "--data", data, "--webhook-allow-private"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )
        self.peers: list[subprocess.Popen] = []
        text = self._wait_for("ready app:")
        self.url = re.search(r"listening on (http://\S+)", text).group(1)
        ready = re.search(r"ready app: account (\S+), app (\S+)", text)
        self.account, self.app = ready.group(1).rstrip(","), ready.group(2)

    def _wait_for(self, marker: str) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = Path(self.log_path).read_text()
            if marker in text:
                return text
            if self.process.poll() is not None:
                raise RuntimeError(f"convene-server exited before it was ready:\n{text}")
            time.sleep(0.05)
        raise RuntimeError(f"convene-server was not ready within 30 s:\n{Path(self.log_path).read_text()}")

    def join(self, participant_token: str) -> subprocess.Popen:
        """A participant that joins with `participant_token` and stays until stopped or closed."""
        signal_url = "ws://" + self.url.removeprefix("http://") + "/v1/signal"
        peer = subprocess.Popen(
            [sys.executable, str(LIVE_PEER), signal_url, participant_token],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.peers.append(peer)
        line = peer.stdout.readline()
        if "joined" not in line:
            raise RuntimeError(f"the participant could not join: {line}{peer.stdout.read()}")
        return peer

    def stop(self) -> None:
        for peer in self.peers:
            peer.terminate()
            peer.wait()
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()
        panicked = "panicked" in Path(self.log_path).read_text()
        self.work.cleanup()
        if panicked:
            raise RuntimeError("convene-server panicked during the SDK tests")
