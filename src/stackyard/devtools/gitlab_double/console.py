"""A prompt that plays the GitLab user against the double: push, tag, open and merge merge requests.

It makes the double a demo: try Stackyard end to end without a GitLab server (README, "Try it without
GitLab"). Every action delivers GitLab's real webhooks to the hooks Stackyard installed, and the read
commands show what "GitLab" received back. Lines come from a terminal or a pipe, so a demo can be scripted.
"""

from __future__ import annotations

import cmd
import json
import shlex
from typing import IO

from .double import GitLabDouble
from .errors import ApiError


class DoubleConsole(cmd.Cmd):
    intro: str | None = "Type help for the commands; the current project is shown in the prompt."

    def __init__(self, double: GitLabDouble, project: str, *, stdin: IO[str] | None = None,
                 stdout: IO[str] | None = None) -> None:
        super().__init__(stdin=stdin, stdout=stdout)
        if stdin is not None:
            self.use_rawinput = False
        # Piped commands (a scripted demo) get no prompts in between the answers.
        self.interactive = self.stdin.isatty()
        if not self.interactive:
            self.intro = None
        self.double = double
        self._set_project(project)

    # acting as a user ------------------------------------------------------------------------
    def do_push(self, line: str) -> None:
        """push BRANCH PATH=CONTENT... : one commit on BRANCH (PATH= with nothing after deletes the file).

        CONTENT takes shell quoting and \\n for new lines, e.g. push main app/main.sh='echo v2\\n'"""
        words = shlex.split(line)
        if len(words) < 2 or any("=" not in word for word in words[1:]):
            self._say("usage: push BRANCH PATH=CONTENT [PATH=CONTENT...]")
            return
        files: dict[str, str | None] = {}
        for word in words[1:]:
            path, _, content = word.partition("=")
            files[path] = content.replace("\\n", "\n") if content else None
        sha = self.double.push(self.project, branch=words[0], files=files)
        self._say(f"pushed {sha[:8]} to {words[0]}")
        self._deliveries_since_prompt()

    def do_tag(self, line: str) -> None:
        """tag NAME [REF] : a lightweight tag on REF (default branch when left out)."""
        words = shlex.split(line)
        if len(words) not in (1, 2):
            self._say("usage: tag NAME [REF]")
            return
        sha = self.double.push_tag(self.project, words[0], words[1] if len(words) == 2 else None)
        self._say(f"tagged {sha[:8]} as {words[0]}")
        self._deliveries_since_prompt()

    def do_mr(self, line: str) -> None:
        """mr SOURCE [TARGET] [TITLE...] : open a merge request from branch SOURCE."""
        words = shlex.split(line)
        if not words:
            self._say("usage: mr SOURCE [TARGET] [TITLE...]")
            return
        target = words[1] if len(words) > 1 else None
        title = " ".join(words[2:]) or f"Update {words[0]}"
        iid = self.double.open_merge_request(self.project, source_branch=words[0], target_branch=target, title=title)
        self._say(f"opened merge request !{iid}")
        self._deliveries_since_prompt()

    def do_merge(self, line: str) -> None:
        """merge IID : merge the merge request (a merge commit on its target branch)."""
        iid = self._iid(line)
        if iid is not None:
            sha = self.double.merge_merge_request(self.project, iid)
            self._say(f"merged !{iid} as {sha[:8]}")
            self._deliveries_since_prompt()

    def do_note(self, line: str) -> None:
        """note IID TEXT... : comment on a merge request (e.g. note 1 /stackyard plan)."""
        iid_text, _, body = line.strip().partition(" ")
        iid = self._iid(iid_text)
        if iid is not None and body:
            self.double.add_note(self.project, iid, body)
            self._say(f"commented on !{iid}")
            self._deliveries_since_prompt()

    def do_project(self, line: str) -> None:
        """project PATH : act on another project of the double."""
        path = line.strip()
        try:
            self.double.project(path)
        except Exception:
            self._say(f"no project {path!r}")
            return
        self._set_project(path)

    # looking at what GitLab received ---------------------------------------------------------
    def do_statuses(self, _line: str) -> None:
        """statuses : the commit statuses (external pipelines) Stackyard set, oldest first."""
        for status in self.double.statuses(self.project):
            self._say(f"{str(status['sha'])[:8]} {status['name']} {status['status']}: {status.get('description') or ''}"
                      f"  {status.get('target_url') or ''}")

    def do_comments(self, line: str) -> None:
        """comments IID : the merge request's comments, first lines only."""
        iid = self._iid(line)
        if iid is not None:
            for note in self.double.notes(self.project, iid):
                first = str(note["body"]).strip().splitlines()[:3]
                self._say(f"note {note['id']} by {note['author']['username']}: " + " | ".join(first))  # type: ignore[index]

    def do_deployments(self, _line: str) -> None:
        """deployments : environments and their deployments."""
        for environment in self.double.environments(self.project):
            self._say(f"environment {environment['name']}  {environment.get('external_url') or ''}")
        for deployment in self.double.deployments(self.project):
            self._say(f"deployment {deployment['id']} {deployment['status']} {str(deployment['sha'])[:8]} "
                      f"on {deployment['environment']['name']}")  # type: ignore[index]

    def do_hooks(self, _line: str) -> None:
        """hooks : the project's webhooks."""
        for hook in self.double.hooks(self.project):
            self._say(json.dumps({k: hook[k] for k in ("id", "url", "push_events", "tag_push_events",
                                                        "merge_requests_events", "note_events")}))

    def do_deliveries(self, line: str) -> None:
        """deliveries [N] : the last N webhook deliveries (default 10) and Stackyard's answers."""
        count = int(line) if line.strip().isdigit() else 10
        for delivery in self.double.deliveries[-count:]:
            self._say(f"{delivery.event} -> {delivery.url}: {delivery.status or delivery.error}")

    def do_quit(self, _line: str) -> bool:
        """quit : stop the double."""
        return True

    do_EOF = do_quit

    def emptyline(self) -> bool:
        return False

    def default(self, line: str) -> None:
        self._say(f"unknown command {line.split()[0]!r}: type help")

    def precmd(self, line: str) -> str:
        self._seen = len(self.double.deliveries)
        return line

    def onecmd(self, line: str) -> bool:
        try:
            return super().onecmd(line)
        except (KeyError, ValueError, ApiError) as exc:
            # Unknown branch, merge request or commit: say so and keep the prompt.
            self._say(f"error: {exc}")
            return False

    # helpers -------------------------------------------------------------------------------
    def _set_project(self, path: str) -> None:
        self.project = path
        self.prompt = f"gitlab:{path}> " if self.interactive else ""

    def _iid(self, text: str) -> int | None:
        if not text.strip().lstrip("!").isdigit():
            self._say("give a merge request number, e.g. 1")
            return None
        return int(text.strip().lstrip("!"))

    def _deliveries_since_prompt(self) -> None:
        self.double.wait_for_deliveries()
        for delivery in self.double.deliveries[getattr(self, "_seen", 0):]:
            self._say(f"  webhook {delivery.event} -> {delivery.status or delivery.error}")

    def _say(self, text: str) -> None:
        self.stdout.write(text + "\n")
