"""Webhook deliveries from the double: shapes like the real fixtures, GitLab's headers, resend, signing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import gitlab
from gitlab_double_shared import FIXTURES_DIR, PROJECT_PATH, Receiver

from stackyard.devtools.gitlab_double import GitLabDouble

# Fixtures live in a uniquely named module: a conftest.py would shadow other folders' conftest.
pytest_plugins = ("gitlab_double_fixtures",)


ZERO = "0" * 40
SIGNING = "whsec_" + base64.b64encode(b"k" * 32).decode()


def _subscribe(double: GitLabDouble, gl: gitlab.Gitlab, receiver: Receiver, **extra: object) -> None:
    gl.projects.get(PROJECT_PATH, lazy=True).hooks.create(
        {"url": receiver.url, "token": "hook-secret", "push_events": True, "tag_push_events": True,
         "merge_requests_events": True, "note_events": True, **extra}
    )


def _payloads(receiver: Receiver, event: str) -> list[dict[str, object]]:
    return [json.loads(r.body) for r in receiver.received if r.headers["x-gitlab-event"] == event]


def _fixture(name: str) -> dict[str, object]:
    return json.loads((FIXTURES_DIR / name).read_text())


def test_push_to_new_branch_then_update(double: GitLabDouble, gl: gitlab.Gitlab, receiver: Receiver) -> None:
    _subscribe(double, gl, receiver)
    first = double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"}, author="alice")
    second = double.push(PROJECT_PATH, branch="feature", files={"a.tf": None, "b.tf": "b\n"})
    created, updated = _payloads(receiver, "Push Hook")
    assert (created["before"], created["after"], created["checkout_sha"]) == (ZERO, first, first)
    assert created["ref"] == "refs/heads/feature" and created["user_username"] == "alice"
    assert [c["id"] for c in created["commits"]] == [first]  # type: ignore[index]
    assert created["commits"][0]["added"] == ["a.tf"]  # type: ignore[index]
    assert (updated["before"], updated["after"]) == (first, second)
    assert updated["commits"][0]["removed"] == ["a.tf"]  # type: ignore[index]
    fixture = _fixture("drone-go-scm/push_create_branch.json")
    assert set(fixture) <= set(created)
    assert set(fixture["project"]) <= set(created["project"])  # type: ignore[arg-type]
    assert set(fixture["commits"][0]) <= set(created["commits"][0]) | {"title"}  # type: ignore[index]


def test_push_lists_newest_20_ascending_with_real_total(
    double: GitLabDouble, gl: gitlab.Gitlab, receiver: Receiver
) -> None:
    shas = [double.push(PROJECT_PATH, branch="feature", files={"n": str(i)}, deliver=False) for i in range(3)]
    _subscribe(double, gl, receiver)
    base = shas[-1]
    more = [
        double.push(PROJECT_PATH, branch="feature", files={"n": f"x{i}"}, deliver=False) for i in range(24)
    ]
    double.push(PROJECT_PATH, branch="feature", files={"n": "last"}, parent=base)  # a force-push
    forced = _payloads(receiver, "Push Hook")[-1]
    assert forced["before"] == more[-1] and forced["total_commits_count"] == 1
    double.delete_branch(PROJECT_PATH, "feature")
    deleted = _payloads(receiver, "Push Hook")[-1]
    assert (deleted["after"], deleted["checkout_sha"], deleted["commits"]) == (ZERO, None, [])
    tip = double.push(PROJECT_PATH, branch="long", files={"n": "0"}, deliver=False)
    for i in range(24):
        tip = double.push(PROJECT_PATH, branch="long", files={"n": str(i + 1)}, deliver=False)
    double.delete_branch(PROJECT_PATH, "long", deliver=False)
    receiver.received.clear()
    double.push(PROJECT_PATH, branch="long", files={"n": "z"}, parent=tip)
    payload = _payloads(receiver, "Push Hook")[0]
    assert payload["total_commits_count"] == 26
    listed = [c["id"] for c in payload["commits"]]  # type: ignore[union-attr]
    assert len(listed) == 20 and listed[-1] == payload["after"]


def test_merge_request_open_update_and_push_update(
    double: GitLabDouble, gl: gitlab.Gitlab, receiver: Receiver
) -> None:
    _subscribe(double, gl, receiver)
    first = double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"}, deliver=False)
    iid = double.open_merge_request(PROJECT_PATH, source_branch="feature", title="Add a")
    double.update_merge_request(PROJECT_PATH, iid, title="Add a and b")
    second = double.push(PROJECT_PATH, branch="feature", files={"b.tf": "b\n"})
    opened, retitled, pushed = _payloads(receiver, "Merge Request Hook")
    attributes = opened["object_attributes"]
    assert attributes["action"] == "open" and "oldrev" not in attributes  # type: ignore[operator,index]
    assert attributes["last_commit"]["id"] == first  # type: ignore[index]
    assert retitled["changes"]["title"] == {"previous": "Add a", "current": "Add a and b"}  # type: ignore[index]
    assert "oldrev" not in retitled["object_attributes"]  # type: ignore[operator]
    assert pushed["object_attributes"]["oldrev"] == first  # type: ignore[index]
    assert pushed["object_attributes"]["last_commit"]["id"] == second  # type: ignore[index]
    fixture = _fixture("drone-go-scm/mr_open.json")
    assert set(fixture) <= set(opened)
    missing = set(fixture["object_attributes"]) - set(attributes)  # type: ignore[arg-type]
    assert missing <= {"deleted_at"}
    notes = double.notes(PROJECT_PATH, iid)
    assert [n["system"] for n in notes] == [True, True]
    assert notes[1]["body"].startswith("added 1 commit")  # type: ignore[union-attr]
    double.close_merge_request(PROJECT_PATH, iid)
    double.reopen_merge_request(PROJECT_PATH, iid)
    merge_sha = double.merge_merge_request(PROJECT_PATH, iid)
    actions = [p["object_attributes"]["action"] for p in _payloads(receiver, "Merge Request Hook")]  # type: ignore[index]
    assert actions[-3:] == ["close", "reopen", "merge"]
    assert _payloads(receiver, "Push Hook")[-1]["after"] == merge_sha


def test_fork_merge_request_fires_on_the_target(
    double: GitLabDouble, gl: gitlab.Gitlab, receiver: Receiver
) -> None:
    _subscribe(double, gl, receiver)
    fork = double.fork_project(PROJECT_PATH, "alice/app")
    double.push(fork.id, branch="fix", files={"a.tf": "a\n"})
    iid = double.open_merge_request(PROJECT_PATH, source_branch="fix", source_project=fork.id)
    assert _payloads(receiver, "Push Hook") == []
    opened = _payloads(receiver, "Merge Request Hook")[0]["object_attributes"]
    assert (opened["source_project_id"], opened["target_project_id"]) == (fork.id, 1)  # type: ignore[index]
    mr = gl.projects.get(PROJECT_PATH).mergerequests.get(iid)
    assert mr.source_project_id == fork.id


def test_notes_fire_note_hooks_but_system_notes_do_not(
    double: GitLabDouble, gl: gitlab.Gitlab, receiver: Receiver
) -> None:
    _subscribe(double, gl, receiver)
    double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"}, deliver=False)
    iid = double.open_merge_request(PROJECT_PATH, source_branch="feature", deliver=False)
    double.add_note(PROJECT_PATH, iid, "system", system=True)
    double.add_note(PROJECT_PATH, iid, "atlantis plan", author="alice")
    mr = gl.projects.get(PROJECT_PATH, lazy=True).mergerequests.get(iid, lazy=True)
    mr.notes.create({"body": "Plan: 1 to add"})
    assert double.wait_for_deliveries()
    notes = _payloads(receiver, "Note Hook")
    assert [n["object_attributes"]["note"] for n in notes] == ["atlantis plan", "Plan: 1 to add"]  # type: ignore[index]
    assert notes[1]["user"]["username"] == "stackyard-bot"  # type: ignore[index]
    assert notes[0]["merge_request"]["iid"] == iid  # type: ignore[index]
    fixture = _fixture("packit-service/note_on_mr.json")
    assert set(fixture) <= set(notes[0])


def test_headers_resend_and_signature(double: GitLabDouble, gl: gitlab.Gitlab, receiver: Receiver) -> None:
    _subscribe(double, gl, receiver, signing_token=SIGNING)
    double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"})
    headers = receiver.received[0].headers
    assert headers["x-gitlab-event"] == "Push Hook"
    assert headers["x-gitlab-token"] == "hook-secret"
    assert headers["user-agent"] == "GitLab/18.6.0"
    assert headers["x-gitlab-instance"] == double.external_url
    assert headers["webhook-id"] == headers["idempotency-key"]
    assert double.deliveries[0].status == 200
    double.resend(0)
    again = receiver.received[1].headers
    assert again["idempotency-key"] == headers["idempotency-key"]
    assert again["x-gitlab-webhook-uuid"] != headers["x-gitlab-webhook-uuid"]
    assert receiver.received[1].body == receiver.received[0].body
    for received in receiver.received:
        h, raw_body = received.headers, received.body
        # GITLAB.md A4 verification sketch, verbatim.
        key = base64.b64decode(SIGNING.removeprefix("whsec_"))
        msg = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + raw_body
        expected = base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
        ok = any(
            hmac.compare_digest(expected, part.split(",", 1)[1])
            for part in h["webhook-signature"].split()
            if part.startswith("v1,")
        )
        assert ok


def test_branch_filter_and_tag_push(double: GitLabDouble, gl: gitlab.Gitlab, receiver: Receiver) -> None:
    _subscribe(double, gl, receiver, push_events_branch_filter="main")
    double.push(PROJECT_PATH, branch="feature", files={"a.tf": "a\n"})
    assert receiver.received == []
    sha = double.push(PROJECT_PATH, branch="main", files={"a.tf": "a\n"})
    tagged = double.push_tag(PROJECT_PATH, "v1.0.0", message="Release")
    assert tagged == sha
    push, tag = receiver.received
    assert push.headers["x-gitlab-event"] == "Push Hook"
    payload = json.loads(tag.body)
    assert tag.headers["x-gitlab-event"] == "Tag Push Hook"
    assert (payload["ref"], payload["before"], payload["checkout_sha"]) == ("refs/tags/v1.0.0", ZERO, sha)
    assert payload["after"] != sha and payload["message"] == "Release"


def test_failing_receiver_is_recorded_and_hook_disabled_after_four(
    double: GitLabDouble, gl: gitlab.Gitlab, receiver: Receiver
) -> None:
    _subscribe(double, gl, receiver)
    receiver.status = 500
    for number in range(5):
        double.push(PROJECT_PATH, branch="feature", files={"n": str(number)})
    assert [d.status for d in double.deliveries] == [500, 500, 500, 500]
    assert double.hooks(PROJECT_PATH)[0]["alert_status"] == "temporarily_disabled"


def test_hook_test_endpoint_delivers_synchronously(
    double: GitLabDouble, gl: gitlab.Gitlab, receiver: Receiver
) -> None:
    _subscribe(double, gl, receiver)
    hook = gl.projects.get(PROJECT_PATH, lazy=True).hooks.list(get_all=True)[0]
    hook.test("push_events")
    assert receiver.received[0].headers["x-gitlab-event"] == "Push Hook"
    receiver.status = 404
    try:
        hook.test("push_events")
    except gitlab.GitlabHookTestError as error:
        assert error.response_code == 422
    else:
        raise AssertionError("a 404 from the receiver must fail the hook test")
