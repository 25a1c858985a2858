"""Traces without Docker: the in-kernel OTLP receiver, the span store and the trace views."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from support import eventually

from tourlab import Invocation, Lab
from tourlab._runtimes import choose_runtime
from tourlab._tracing import (
    JaegerQuery,
    Span,
    SpanStore,
    Trace,
    TraceReceiver,
    spans_from_jaeger,
    spans_from_request,
)


def _kv(key: str, value: str) -> common_pb2.KeyValue:
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=value))


def _request(
    trace_id: bytes, spans: list[tuple[bytes, bytes, str, int]]
) -> trace_service_pb2.ExportTraceServiceRequest:
    """A request in Restate's shape: resource service.name=Restate, spans (id, parent, name, status)."""
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                resource={"attributes": [_kv("service.name", "Restate")]},
                scope_spans=[
                    trace_pb2.ScopeSpans(
                        spans=[
                            trace_pb2.Span(
                                trace_id=trace_id,
                                span_id=span_id,
                                parent_span_id=parent,
                                name=name,
                                start_time_unix_nano=1_000_000 * (number + 1),
                                end_time_unix_nano=1_000_000 * (number + 5),
                                status=trace_pb2.Status(code=status, message="transient failure" if status else ""),
                                attributes=[
                                    _kv("restate.invocation.id", "inv_1"),
                                    _kv("restate.invocation.target", "CartObject/Mary/addTicket"),
                                ],
                                events=[
                                    trace_pb2.Span.Event(
                                        time_unix_nano=1_000_000 * (number + 2),
                                        name="restate.invocation.lifecycle.new_command",
                                        attributes=[_kv("restate.journal.command.type", "Command/Call")],
                                    )
                                ]
                                if name.startswith("invocation-attempt")
                                else [],
                            )
                            for number, (span_id, parent, name, status) in enumerate(spans)
                        ]
                    )
                ],
            )
        ]
    )


TRACE = bytes.fromhex("0123456789abcdef0123456789abcdef")
SHAPE = [
    (b"\x01" * 8, b"", "ingress CartObject/{key}/addTicket", 0),
    (b"\x02" * 8, b"\x01" * 8, "invocation-start CartObject/{key}/addTicket", 0),
    (b"\x03" * 8, b"\x02" * 8, "invocation-attempt CartObject/{key}/addTicket", 2),
    (b"\x04" * 8, b"\x02" * 8, "invocation-attempt CartObject/{key}/addTicket", 1),
    (b"\x05" * 8, b"\x02" * 8, "invocation-end CartObject/{key}/addTicket", 1),
]


def test_spans_are_read_from_an_otlp_request_and_shown_as_a_tree():
    spans = spans_from_request(_request(TRACE, SHAPE))
    trace = Trace(TRACE.hex(), spans)

    assert {span.service for span in spans} == {"Restate"}
    assert [span.name.split()[0] for _depth, span in trace.tree()] == [
        "ingress",
        "invocation-start",
        "invocation-attempt",
        "invocation-attempt",
        "invocation-end",
    ]
    assert [depth for depth, _span in trace.tree()] == [0, 1, 2, 2, 2]
    assert len(trace.attempts) == 2
    assert len(trace.failed_attempts) == 1
    assert trace.attempts[0].commands == ["Call"]
    text = repr(trace)
    assert "invocation-attempt CartObject/Mary/addTicket  [Call]  FAILED: transient failure" in text
    assert TRACE.hex() not in text  # the text form carries no ids
    assert "&#10007;" in trace._repr_html_()  # the failed attempt is marked in the waterfall


def test_jaeger_json_has_what_the_jaeger_ui_upload_reads():
    trace = Trace(TRACE.hex(), spans_from_request(_request(TRACE, SHAPE)))
    data = json.loads(trace.jaeger_json())["data"][0]

    assert data["traceID"] == TRACE.hex()
    assert data["processes"] == {"p1": {"serviceName": "Restate", "tags": []}}
    by_id = {span["spanID"]: span for span in data["spans"]}
    assert by_id["0202020202020202"]["references"] == [
        {"refType": "CHILD_OF", "traceID": TRACE.hex(), "spanID": "0101010101010101"}
    ]
    failed = by_id["0303030303030303"]
    assert {"key": "error", "type": "bool", "value": True} in failed["tags"]
    assert failed["startTime"] == 3000  # microseconds
    assert failed["duration"] == 4000
    assert failed["logs"][0]["fields"][1] == {
        "key": "restate.journal.command.type",
        "type": "string",
        "value": "Command/Call",
    }


def test_jaeger_json_reads_back_into_the_same_trace():
    trace = Trace(TRACE.hex(), spans_from_request(_request(TRACE, SHAPE)))
    again = Trace(TRACE.hex(), spans_from_jaeger(json.loads(trace.jaeger_json())))

    assert repr(again) == repr(trace)
    assert [span.failed for span in again.attempts] == [True, False]
    assert again.attempts[0].status_message == "transient failure"
    assert again.spans[0].start_ns == trace.spans[0].start_ns


def test_traces_can_be_read_back_from_a_jaeger():
    trace = Trace(TRACE.hex(), spans_from_request(_request(TRACE, SHAPE)))
    asked: list[str] = []

    def jaeger(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, content=trace.jaeger_json())

    query = JaegerQuery("http://jaeger:16686/", transport=httpx.MockTransport(jaeger))
    done = Invocation(id="inv_1", target="CartObject/Mary/addTicket", status="completed", trace_id=TRACE.hex())

    found = query.trace_of(done, "inv_1", timeout=0)

    assert asked == [f"http://jaeger:16686/api/traces/{TRACE.hex()}"]
    assert repr(found) == repr(trace)
    assert JaegerQuery.from_env({}) is None
    assert JaegerQuery.from_env({"TOURLAB_JAEGER_API_URL": "http://jaeger:16686"}) is not None


def test_the_store_drops_the_oldest_traces_first():
    store = SpanStore(max_traces=3, max_spans=100)
    for number in range(5):
        store.add([Span(f"{number:032x}", "01" * 8, None, "ingress", 0, 1)])
    assert store.trace_ids() == [f"{n:032x}" for n in (2, 3, 4)]
    assert store.dropped_traces == 2

    store = SpanStore(max_traces=100, max_spans=4)
    for number in range(3):
        store.add([Span(f"{number:032x}", f"{n:016x}", None, "x", 0, 1) for n in range(2)])
    assert store.span_count <= 4
    assert store.trace_ids() == [f"{n:032x}" for n in (1, 2)]


def test_the_receiver_answers_otlp_export_calls():
    receiver = TraceReceiver()
    receiver.start()
    try:
        assert receiver.running
        assert receiver.endpoint == f"http://127.0.0.1:{receiver.port}"
        with grpc.insecure_channel(f"127.0.0.1:{receiver.port}") as channel:
            trace_service_pb2_grpc.TraceServiceStub(channel).Export(_request(TRACE, SHAPE), timeout=5)
        spans = eventually(lambda: len(receiver.store.spans(TRACE.hex())) == 5, timeout=5)
        assert spans
        assert receiver.store.find_trace_of("inv_1") == TRACE.hex()
    finally:
        receiver.stop()
    assert not receiver.running


def test_an_export_while_python_exits_is_dropped_instead_of_raising():
    # Python stops every thread pool before the lab's exit handler stops Restate, which may still
    # export then: grpc's submit must not raise (its thread would print a traceback). A pool shut
    # down by hand refuses the same way, without touching the other pools of this process.
    from tourlab._tracing.receiver import _ExportPool

    pool = _ExportPool(max_workers=1)
    pool.shutdown()
    ran: list[int] = []
    dropped = pool.submit(ran.append, 1)
    assert dropped.cancelled()
    assert ran == []


def test_a_receiver_port_taken_in_the_meantime_says_so():
    """The port is picked (and given to Restate) before the receiver binds it; another program may take it first."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        receiver = TraceReceiver(port=squatter.getsockname()[1])
        with pytest.raises(OSError, match=r"another program took port \d+ .* start the lab again to get traces"):
            receiver.start()
    assert not receiver.running


def test_receiver_placement_follows_the_runtime():
    external = choose_runtime({"RESTATE_ADMIN_URL": "http://r:9070", "RESTATE_INGRESS_URL": "http://r:8080"})
    assert not external.traced
    assert not choose_runtime({"TOURLAB_TRACING": "off"}).traced
    embedded = choose_runtime({"TOURLAB_RUNTIME": "embedded"})
    assert embedded.traced
    receiver = TraceReceiver(bind_host=embedded.bind_host, advertised_host=embedded.endpoint_host)
    assert receiver.bind_host == "127.0.0.1"
    assert receiver.endpoint.startswith("http://127.0.0.1:")


# -- against the real Restate ----------------------------------------------------------------------


def test_the_lab_receives_restate_spans_for_a_call(lab: Lab, unique):
    assert isinstance(lab.traces, TraceReceiver)
    assert lab.traces.running
    lab.load("tour/part4")
    cart, seat = unique("Mary"), unique("seat")
    assert lab.call("CartObject", cart, "addTicket", seat) is True

    trace = lab.trace()

    assert trace.trace_id == lab.invocation().trace_id
    assert trace.service == "Restate"
    names = [(depth, f"{span.name.split()[0]} {span.target}") for depth, span in trace.tree()]
    assert names == [
        (0, f"ingress CartObject/{cart}/addTicket"),
        (1, f"invocation-start CartObject/{cart}/addTicket"),
        (2, f"invocation-attempt CartObject/{cart}/addTicket"),
        (3, f"invocation-start TicketObject/{seat}/reserve"),
        (4, f"invocation-attempt TicketObject/{seat}/reserve"),
        (4, f"invocation-end TicketObject/{seat}/reserve"),
        (2, f"invocation-end CartObject/{cart}/addTicket"),
    ]
    assert "Call" in trace.attempts[0].commands
    assert not trace.failed_attempts
    assert f"CartObject/{cart}/addTicket" in trace._repr_html_()


FLAKY_APP = """
import restate

attempts = {}
service = restate.Service("FlakyTrace")


@service.handler()
async def charge(ctx: restate.Context, order: str) -> str:
    await ctx.run_typed("reserve", lambda: "reserved")
    attempts[order] = attempts.get(order, 0) + 1
    if attempts[order] <= 2:
        raise ConnectionError("payment provider unreachable")
    return "paid"


app = restate.app(services=[service])
"""


@pytest.fixture
def flaky_app(tmp_path: Path) -> Path:
    """A handler package (outside the project) that fails twice per order, then succeeds."""
    folder = tmp_path / f"flaky_{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "app.py").write_text(FLAKY_APP)
    return folder


def test_failed_attempts_are_marked_in_the_trace(lab: Lab, flaky_app: Path, unique):
    lab.load(flaky_app)
    order = unique("order")
    invocation_id = lab.send("FlakyTrace", None, "charge", order)
    done = lab.wait_for(invocation_id, "completed", timeout=30)
    assert done.completion_result == "success"

    trace = lab.trace(invocation_id)

    assert len(trace.attempts) == 3
    assert [span.failed for span in trace.attempts] == [True, True, False]
    assert trace.attempts[0].commands == ["Run reserve"]  # later attempts replay it from the journal
    assert "FAILED" in repr(trace)
    html = trace._repr_html_()
    assert html.count("&#10007;") == 2
    jaeger = json.loads(trace.jaeger_json())["data"][0]
    assert sum({"key": "error", "type": "bool", "value": True} in span["tags"] for span in jaeger["spans"]) == 2
