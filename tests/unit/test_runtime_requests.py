"""Request validation of the HTTP API (statuses 400/404/413) and batch token assembly."""
import json

import numpy as np
import pytest

from alpa_serve_like.runtime.requests import HttpError, batch_tokens, parse_infer_body, unknown_model
from alpa_serve_like.core.zoo import get_spec

SPEC = get_spec("bert-tiny")  # seq_len 128, vocab 1024


def parse(body, limit=1 << 20):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_infer_body(raw, "bert-tiny-0", SPEC, limit)


def status_of(body, limit=1 << 20) -> int:
    with pytest.raises(HttpError) as err:
        parse(body, limit)
    return err.value.status


def test_token_list_and_length_inputs_are_accepted():
    r = parse({"input": [1, 2, 3], "slo_ms": 250})
    assert (r.tokens, r.length, r.slo_s) == ((1, 2, 3), 3, 0.25)
    r = parse({"input": {"length": 128}})
    assert (r.tokens, r.length, r.slo_s) == (None, 128, None)


@pytest.mark.parametrize("body", [
    b"{not json", b"[1, 2]", {"inputs": [1]}, {"input": []}, {"input": "hello"}, {"input": [1.5]},
    {"input": [True]}, {"input": [1024]}, {"input": [-1]}, {"input": list(range(129))},
    {"input": {"length": 0}}, {"input": {"length": 129}}, {"input": {"length": 4, "x": 1}},
    {"input": [1], "slo_ms": 0}, {"input": [1], "slo_ms": "fast"}, {"input": [1], "slo_ms": float("inf")},
    {"input": [1], "extra": 1},
])
def test_malformed_bodies_are_400(body):
    assert status_of(body) == 400


def test_oversized_body_is_413_and_names_the_limit():
    with pytest.raises(HttpError) as err:
        parse({"input": [1] * 100}, limit=64)
    assert err.value.status == 413 and "64 bytes" in err.value.message


def test_unknown_model_is_404_listing_known_models():
    err = unknown_model("gpt-9", ["bert-tiny-0", "gpt-tiny-0"])
    assert err.status == 404 and err.body()["known_models"] == ["bert-tiny-0", "gpt-tiny-0"]
    assert "bert-tiny-0, gpt-tiny-0" in err.message


def test_batch_tokens_keeps_given_ids_draws_lengths_and_pads_right():
    reqs = [parse({"input": [7, 8]}), parse({"input": {"length": 4}})]
    out = batch_tokens(reqs, SPEC.vocab_size, np.random.default_rng(0))
    assert out.shape == (2, 4) and out.dtype == np.int64
    assert out[0].tolist() == [7, 8, 0, 0]
    assert np.all((out[1] >= 0) & (out[1] < SPEC.vocab_size))
    again = batch_tokens(reqs, SPEC.vocab_size, np.random.default_rng(0))
    assert np.array_equal(out, again)  # randomness only from the generator passed in


@pytest.mark.parametrize("lengths", [(128,), (5, 5, 5), (1, 1), (3, 9), (64, 2, 64)])
def test_batch_tokens_draws_the_ids_of_one_draw_per_row(lengths):
    reqs = [parse({"input": {"length": n}}) for n in lengths]
    rng = np.random.default_rng(3)
    rows = [rng.integers(0, SPEC.vocab_size, n) for n in lengths]  # the reference: row after row
    out = batch_tokens(reqs, SPEC.vocab_size, np.random.default_rng(3))
    assert out.shape == (len(lengths), max(lengths)) and out.dtype == np.int64
    for row, expected in zip(out, rows):
        assert row[:len(expected)].tolist() == expected.tolist() and not row[len(expected):].any()


@pytest.mark.parametrize("body", [
    b"[" * 50_000 + b"]" * 50_000,                               # deep nesting: one linear scan, 400
    b'{"input": ' + b"[" * 40 + b"1" + b"]" * 40 + b"}",
    b'{"input": [1], "slo_ms": 1e-300}',                           # under 1 us: a typo, not an SLO
    b'{"input": [1], "slo_ms": 1e12}',
    b'\xff\xfe{\x00"\x00',                                          # not UTF-8
])
def test_hostile_bodies_are_400_with_a_short_message(body):
    with pytest.raises(HttpError) as err:
        parse(body)
    assert err.value.status == 400
    assert len(err.value.message) < 300


def test_non_utf8_body_says_utf8_and_brackets_inside_strings_do_not_count_as_nesting():
    with pytest.raises(HttpError, match="not UTF-8"):
        parse(b'{"input": [1], "slo_ms": 5}\xff')
    with pytest.raises(HttpError, match="unknown fields"):
        parse({"input": [1], "[" * 100: 1})


def test_long_client_strings_are_cut_in_error_messages():
    err = unknown_model("m" * 60_000, ["bert-tiny-0"])
    assert err.status == 404 and len(err.message) < 200 and "60002 chars" in err.message
    with pytest.raises(HttpError) as bad:
        parse({"input": [1], "slo_ms": "x" * 10_000})
    assert len(bad.value.message) < 300
