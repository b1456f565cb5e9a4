"""Logstash's pipeline: the grammar's parser reads the real pipeline and every construct of the
language, and refuses a broken pipeline naming its line; the pipeline's redaction script, run by
Ruby, cleans a log event exactly as the kit's own redaction does."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess

import pytest

from platform_tools.testing.backing import required
from platform_tools.testing.delivery import logstash
from service_kit.conf import REPO_ROOT
from service_kit.redaction import redacted

PIPELINE = REPO_ROOT / "compose/logstash/pipeline/platform.conf"
SCRIPT = REPO_ROOT / "compose/logstash/scripts/redact.rb"


def test_the_platform_pipeline_parses():
    pipeline = logstash.parse(PIPELINE.read_text())

    assert [kind for kind, _ in pipeline.sections] == ["input", "filter", "output"]
    assert [p.name for p in pipeline.plugins("input")] == ["beats"]
    assert pipeline.plugins("input")[0].get("port") == 5044
    assert [p.name for p in pipeline.plugins("output")] == ["elasticsearch"]
    assert "ruby" in [p.name for p in pipeline.plugins("filter")]


EVERY_CONSTRUCT = r"""
# a comment
input {
  beats { port => 5044 codec => json { charset => "UTF-8" } }  # trailing comment
  tcp { port => -1 'host' => '127.0.0.1' ssl_enabled => false }
}
filter {
  if [a][b] == "x" and ([c] != 1.5 or [d] >= 2) {
    mutate { add_field => { "[x]" => "%{[a][b]}" 'y' => 2 } add_tag => ["one", "two"] }
  } else if [e] =~ /^a\/b$/ or [f] !~ "z" {
    drop { }
  } else if "t" in [tags] and "u" not in [tags] xor !([g] < 3) nand ![h] {
    ruby { code => 'event.set("a", "b")' }
  } else {
    mutate { replace => { } }
  }
  if [i] in ["a", "b"] { } else { }
}
output { elasticsearch { hosts => ["http://es:9200"] data_stream => "true" } }
"""


def test_every_construct_of_the_language_parses():
    pipeline = logstash.parse(EVERY_CONSTRUCT)

    beats, tcp = pipeline.plugins("input")
    assert beats.get("codec") == logstash.Plugin("json", [("charset", "UTF-8")], 4)
    assert (tcp.get("port"), tcp.get("host"), tcp.get("ssl_enabled")) == (-1, "127.0.0.1", False)
    branch = pipeline.sections[1][1][0]
    assert len(branch.clauses) == 4 and branch.clauses[-1][0] is None
    first = branch.clauses[0][0]
    assert first[0] == ("==", "[a][b]", "x") and first[1] == "and"
    assert branch.clauses[1][0][0] == ("=~", "[e]", logstash.Regexp(r"^a\/b$"))
    assert ("not in", "u", "[tags]") in branch.clauses[2][0]
    mutate = pipeline.plugins("filter")[0]
    assert mutate.get("add_field") == {"[x]": "%{[a][b]}", "y": 2}
    assert [p.name for p in pipeline.plugins("filter")] == ["mutate", "drop", "ruby", "mutate"]


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        pytest.param("input {\n  beats { port => 5044 \n}\n", 4, "expected '}'", id="unclosed"),
        pytest.param('filter {\n  mutate { add_tag => ["a" "b"] }\n}', 2, "','", id="array"),
        pytest.param('filter {\n  mutate {\n    add_tag = ["a"]\n  }\n}', 3, "'=>'", id="arrow"),
        pytest.param(
            'filter {\n  mutate { add_field => { "a" => "1", "b" => "2" } }\n}',
            2,
            "white space between hash entries",
            id="hash-comma",
        ),
        pytest.param(
            "filter {\n  if [a] == {\n    drop {}\n  }\n}", 2, "a field, string", id="bad-operand"
        ),
        pytest.param("filter {\n  if [a] =~ [b] { }\n}", 2, "regular expression", id="regexp"),
        pytest.param("filter {\n  if [a] not [b] { }\n}", 2, "'in' after 'not'", id="not-in"),
        pytest.param("filter {\n  if ([a] == 1 { }\n}", 2, "')'", id="paren"),
        pytest.param("filter {\n  else { drop {} }\n}", 2, "'else' without its 'if'", id="else"),
        pytest.param('filter {\n  mutate { id => "a }\n}\n', 2, 'a closing "', id="string"),
        pytest.param("fliter {\n}", 1, "a section", id="section"),
        pytest.param("# nothing\n", 2, "a section", id="empty"),
        pytest.param("output {\n  stdout { codec => }\n}", 2, "a value", id="no-value"),
    ],
)
def test_a_broken_pipeline_fails_with_its_line(text, line, expected):
    with pytest.raises(logstash.LogstashSyntaxError) as error:
        logstash.parse(text)

    assert error.value.line == line, str(error.value)
    assert expected in str(error.value)


# -- the redaction script ----------------------------------------------------------------------
#: Logstash's Event, as much of it as the ruby filter's script uses, then the script run on the
#: JSON documents of stdin with the pipeline's script_params.
HARNESS = r"""
require "json"
class Event
  def initialize(data) @data = data end
  def to_hash() Marshal.load(Marshal.dump(@data)) end
  def set(reference, value) @data[reference[1..-2]] = value end
end
load ARGV[0]
register(JSON.parse(ARGV[1]))
STDIN.each_line { |line| puts JSON.generate(filter(Event.new(JSON.parse(line)))[0].to_hash) }
"""

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl"
RESET = "MTIz.cd1abc-0123456789abcdef0123456789abcdef"


def _documents() -> list[dict]:
    client_secret = secrets.token_urlsafe(32)
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return [
        {
            "@timestamp": "2026-12-07T10:00:00.000Z",
            "message": f"sent {JWT} and {RESET} for tok_visa",
            "service": {"name": "order"},
            "trace": {"id": trace_id},
            "span": {"id": span_id},
            "http": {"request": {"id": secrets.token_hex(16), "headers": {"Authorization": JWT}}},
            "error": {"stack_trace": f"Traceback: client {client_secret} failed"},
            "payment_token": "tok_visa",
            "extra": [{"api_key": "k-1", "password": ""}, f"?token={RESET}", 3, None, True],
            "user": {"id": "7f3c", "old_password": "hunter2"},
        },
        {"message": "nothing secret here", "service": {"name": "gateway"}, "url": {"path": "/"}},
    ]


def _params() -> str:
    filters = logstash.parse(PIPELINE.read_text()).plugins("filter")
    ruby = next(plugin for plugin in filters if plugin.name == "ruby")
    return json.dumps(ruby.get("script_params"))


def test_the_pipeline_redacts_an_event_as_the_kit_does():
    ruby = shutil.which("ruby")
    if ruby is None:
        message = "ruby is not installed (make tools)"
        pytest.fail(message) if required() else pytest.skip(message)
    documents = _documents()
    result = subprocess.run(  # noqa: S603 - ruby from PATH, the repository's script
        [ruby, "-e", HARNESS, str(SCRIPT), _params()],
        input="".join(json.dumps(d) + "\n" for d in documents),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    cleaned = [json.loads(line) for line in result.stdout.splitlines()]

    assert cleaned == [redacted(document) for document in documents]
    first = cleaned[0]
    # the reset token keeps its public part (user id, timestamp), as the kit leaves it
    assert first["message"] == "sent [redacted] and MTIz.cd1abc[redacted] for [redacted]"
    assert first["http"]["request"]["headers"]["Authorization"] == "[redacted]"
    assert first["extra"][0] == {"api_key": "[redacted]", "password": ""}
    assert first["trace"] == documents[0]["trace"] and first["span"] == documents[0]["span"]
    assert cleaned[1] == documents[1]
