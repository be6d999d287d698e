"""The Livy client against the local Livy server on 127.0.0.1: retries, timeouts, error mapping,
headers and TLS. No AWS involved; faults come from the server's own fault switches."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from emr_autopilot.errors import BatchNotFound, ClusterGone, LivyHttpError, LivyUnavailable
from emr_autopilot.livy import LivyClient, LivyOptions, outcome_of
from emr_autopilot_devkit.local.clock import FastClock
from emr_autopilot_devkit.local.livy_server import LivyServer, LivyTimings

FAST = LivyOptions(connect_timeout=1.0, read_timeout=1.0, attempts=3, backoff_seconds=0.01, max_backoff_seconds=0.02)


@pytest.fixture
def livy() -> Iterator[LivyServer]:
    # A slow clock (x1): a batch stays "starting" for the whole test unless the test moves time on.
    server = LivyServer(FastClock(1.0), timings=LivyTimings(starting=3600, running=3600)).start()
    server.simulate_batches = True  # the client's protocol is under test, not Spark: no application runs
    yield server
    server.stop()


def client(
    server: LivyServer,
    options: LivyOptions = FAST,
    *,
    yarn_url: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> LivyClient:
    return LivyClient(server.url, options, yarn_url=yarn_url, sleep=sleep)


def finish(server: LivyServer) -> None:
    """Move the server's clock past starting and running, so every batch reaches its final state."""
    server.clock.advance(10_000)
    server.tick()
    server.clock.advance(10_000)
    server.tick()


def test_submit_sends_the_livy_body_and_headers(livy: LivyServer) -> None:
    # Given a client with an extra auth header
    options = LivyOptions(headers={"Authorization": "Basic c2VjcmV0"})
    body = {"file": "s3://b/app.py", "args": ["--date", "2026-11-21"], "numExecutors": 4, "name": "run-1"}

    # When it submits a batch
    batch = client(livy, options).submit(body)

    # Then Livy got exactly that body, with the CSRF header, the auth header and a JSON content type
    posted = livy.requests[-1]
    assert (posted.method, posted.path, posted.body) == ("POST", "/batches", body)
    assert posted.headers["X-Requested-By"] == "emr-autopilot"
    assert posted.headers["Authorization"] == "Basic c2VjcmV0"
    assert posted.headers["Content-Type"] == "application/json"
    # And the answer is the batch Livy created
    assert (batch.id, batch.name, batch.state) == (0, "run-1", "starting")


def test_csrf_protected_livy_accepts_the_client(livy: LivyServer) -> None:
    # Given a Livy with livy.server.csrf-protection.enabled
    livy.faults.require_csrf_header = True
    # When a batch is submitted and deleted
    batch = client(livy).submit({"file": "s3://b/app.py"})
    # Then both calls pass the check
    assert client(livy).delete(batch.id) is True


def test_5xx_is_retried_with_backoff_until_it_succeeds(livy: LivyServer) -> None:
    # Given a batch, and a Livy that answers the next two requests with HTTP 500
    batch_id = client(livy).submit({"file": "s3://b/app.py"}).id
    livy.faults.http_errors = 2
    slept: list[float] = []

    # When the client reads the batch
    state = client(livy, sleep=slept.append).state(batch_id)

    # Then the third attempt succeeded, after two bounded backoffs
    assert state == "starting"
    assert len([r for r in livy.requests if r.path == f"/batches/{batch_id}/state"]) == 3
    assert len(slept) == 2
    assert all(0 < pause <= FAST.max_backoff_seconds for pause in slept)


def test_5xx_on_every_attempt_gives_livy_unavailable(livy: LivyServer) -> None:
    # Given a Livy that answers 503 to everything
    livy.faults.http_errors, livy.faults.http_error_status = 100, 503

    # When the client asks for a batch
    with pytest.raises(LivyUnavailable, match=r"HTTP 503.*after 3 attempt\(s\)"):
        client(livy).get(0)

    # Then it tried exactly `attempts` times
    assert len(livy.requests) == FAST.attempts


def test_submitting_a_named_batch_again_returns_the_first(livy: LivyServer) -> None:
    # Given a named batch Livy already runs
    first = client(livy).submit({"file": "s3://b/app.py", "name": "run-7"})
    # When the same named batch is submitted again (a Step Functions retry of SubmitBatch)
    again = client(livy).submit({"file": "s3://b/app.py", "name": "run-7"})
    # Then Livy's "Duplicate session name" is answered with the existing batch, and only one exists
    assert again.id == first.id
    assert [b["name"] for b in livy.batches()] == ["run-7"]


def test_a_post_retried_after_5xx_looks_the_name_up_first(livy: LivyServer) -> None:
    # Given a batch that exists already under the name (created by an attempt whose answer was lost)
    existing = livy.submit_direct("127.0.0.1", {"file": "s3://b/app.py", "name": "run-8"})
    # And Livy answers the next POST with HTTP 500
    livy.faults.http_errors = 1

    # When the client submits the named batch
    batch = client(livy).submit({"file": "s3://b/app.py", "name": "run-8"})

    # Then the retry found the existing batch instead of posting a second one
    assert batch.id == existing["id"]
    assert [r.method for r in livy.requests] == ["POST", "GET"]
    assert len(livy.batches()) == 1


def test_4xx_carries_livys_message_and_is_not_retried(livy: LivyServer) -> None:
    # Given a request Livy rejects (no file)
    # When it is submitted
    with pytest.raises(LivyHttpError) as raised:
        client(livy).submit({"args": ["x"]})
    # Then the error has Livy's status and message, after a single request
    assert raised.value.status == 400
    assert "'file' is a required field" in raised.value.livy_message
    assert len(livy.requests) == 1


def test_unknown_batch_is_batch_not_found(livy: LivyServer) -> None:
    # Given a Livy without batch 42
    # When the client reads it
    with pytest.raises(BatchNotFound, match="no batch 42"):
        client(livy).get(42)
    # Then it was asked once: a 404 is an answer, not a failure to retry
    assert len(livy.requests) == 1


def test_delete_kills_a_running_batch_and_is_idempotent(livy: LivyServer) -> None:
    # Given a batch that is still starting
    batch_id = client(livy).submit({"file": "s3://b/app.py"}).id
    # When it is deleted twice
    first, second = client(livy).delete(batch_id), client(livy).delete(batch_id)
    # Then the first DELETE killed it and the second found nothing to delete
    assert (first, second) == (True, False)
    assert livy.deleted == [("127.0.0.1", batch_id, "starting")]
    with pytest.raises(BatchNotFound):
        client(livy).get(batch_id)


def test_connection_refused_is_retried_then_livy_unavailable(livy: LivyServer) -> None:
    # Given a port nothing listens on
    slept: list[float] = []
    refused = LivyClient(f"http://127.0.0.1:{livy.closed_port}", FAST, sleep=slept.append)

    # When the client asks for a batch
    with pytest.raises(LivyUnavailable, match=r"cannot connect.*after 3 attempt\(s\)"):
        refused.get(0)
    # Then it backed off between its attempts
    assert len(slept) == FAST.attempts - 1


def test_read_timeout_bounds_a_slow_answer(livy: LivyServer) -> None:
    # Given a Livy that takes 0.5 s to answer, and a client that waits 0.1 s for a read
    livy.faults.slow_response_seconds = 0.5
    options = LivyOptions(connect_timeout=1.0, read_timeout=0.1, attempts=2, backoff_seconds=0.0)

    # When the client reads a batch
    started = time.monotonic()
    with pytest.raises(LivyUnavailable, match="no answer"):
        client(livy, options).get(0)

    # Then it gave up after two short waits, not after two full answers
    assert time.monotonic() - started < 0.9
    assert len(livy.requests) == 2


def test_connect_and_read_timeouts_are_applied_separately(livy: LivyServer) -> None:
    # Given a client with different connect and read timeouts
    opener = client(livy, LivyOptions(connect_timeout=1.5, read_timeout=0.25)).opener
    handler = next(h for h in opener.handlers if type(h).__name__ == "_HttpHandler")

    # When it opens a connection the way urllib does (urllib passes its own single timeout)
    connection = handler._connection(f"127.0.0.1:{livy.port}", timeout=999)  # type: ignore[attr-defined]
    connection.connect()

    # Then connecting used the connect timeout and the socket then waits read_timeout per read
    assert connection.timeout == 1.5
    assert connection.sock.gettimeout() == 0.25
    connection.close()


def test_log_without_start_is_the_tail(livy: LivyServer) -> None:
    # Given a batch that ran to its end (a dozen log lines)
    batch_id = client(livy).submit({"file": "s3://b/app.py"}).id
    finish(livy)

    # When the client asks for 3 lines without a start
    tail = client(livy).log(batch_id, size=3)

    # Then it gets the last 3, as Livy's /log does
    assert tail[-1].endswith("Shutdown hook called")
    assert len(tail) == 3


def test_yarn_cross_check_agrees_on_success(livy: LivyServer) -> None:
    # Given a batch that succeeded, and YARN reachable on the same host
    batch_id = client(livy).submit({"file": "s3://b/app.py"}).id
    finish(livy)
    livy_client = client(livy, yarn_url=livy.url)
    batch = livy_client.get(batch_id)

    # When its final state is cross-checked
    check = livy_client.cross_check(batch)

    # Then YARN agrees and the batch counts as succeeded
    assert (batch.state, check.yarn_final_status, check.agrees) == ("success", "SUCCEEDED", True)
    assert outcome_of(batch, check) == "succeeded"


def test_yarn_wins_when_it_disagrees_with_livy(livy: LivyServer) -> None:
    # Given a batch Livy calls success while YARN recorded FAILED (Livy's known misreport)
    livy.faults.yarn_final_status = {"misreported": "FAILED"}
    batch_id = client(livy).submit({"file": "s3://b/misreported.py"}).id
    finish(livy)
    livy_client = client(livy, yarn_url=livy.url)
    batch = livy_client.get(batch_id)

    # When it is cross-checked
    check = livy_client.cross_check(batch)

    # Then the disagreement is reported and YARN's verdict decides
    assert batch.state == "success"
    assert check.agrees is False
    assert "YARN DISAGREES" in check.note
    assert outcome_of(batch, check) == "failed"


def test_unreachable_yarn_falls_back_to_livy(livy: LivyServer) -> None:
    # Given a finished batch and a YARN address nothing answers on
    batch_id = client(livy).submit({"file": "s3://b/app.py"}).id
    finish(livy)
    livy_client = client(livy, yarn_url=f"http://127.0.0.1:{livy.closed_port}")
    batch = livy_client.get(batch_id)

    # When it is cross-checked
    check = livy_client.cross_check(batch)

    # Then Livy's state is used, and the note says YARN was not asked
    assert (check.agrees, check.yarn_final_status) == (None, None)
    assert "not cross-checked" in check.note
    assert outcome_of(batch, check) == "succeeded"


def test_a_name_that_does_not_resolve_is_cluster_gone(livy: LivyServer) -> None:
    # Given the local runtime's name resolution, with no cluster behind an emulated name
    livy.stop()
    resolving = LivyServer(FastClock(1.0)).start(clusters=lambda: [])
    try:
        gone = LivyClient("http://ip-10-9-9-9.ec2.internal:8998", FAST)
        # When the client asks that host for a batch
        # Then it reports the primary node as gone
        with pytest.raises(ClusterGone, match="does not resolve"):
            gone.get(0)
    finally:
        resolving.stop()


# -- TLS ------------------------------------------------------------------------------------------
def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "livy.local")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "livy.pem", tmp_path / "livy.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def tls_livy(tmp_path: Path) -> Iterator[tuple[LivyServer, Path]]:
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = LivyServer(FastClock(1.0), ssl_context=context).start()
    yield server, cert
    server.stop()


def test_https_with_the_ca_bundle_verifies_livy(tls_livy: tuple[LivyServer, Path]) -> None:
    # Given Livy on https with a private CA, and the client given that CA bundle
    server, ca_bundle = tls_livy
    secure = LivyClient(server.url, LivyOptions(ca_bundle=str(ca_bundle)))
    # When it submits a batch
    batch = secure.submit({"file": "s3://b/app.py"})
    # Then the TLS handshake verified and the call went through
    assert server.url.startswith("https://")
    assert batch.state == "starting"


def test_https_without_the_ca_bundle_is_refused(tls_livy: tuple[LivyServer, Path]) -> None:
    # Given the same Livy, and a client that trusts only the system CAs
    server, _ = tls_livy
    insecure = LivyClient(server.url, FAST)
    # When it submits a batch
    # Then the certificate does not verify, and that is reported at once, not retried
    with pytest.raises(LivyUnavailable, match="TLS verification"):
        insecure.submit({"file": "s3://b/app.py"})
    assert server.requests == []
