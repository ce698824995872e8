"""Serve a demo GitLab double with one user and projects: python -m stackyard.devtools.gitlab_double.

With --console, a prompt on standard input plays the GitLab user (push, tag, merge requests, notes) and
shows what Stackyard sent back (devtools/gitlab_double/console.py).
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from collections.abc import Sequence

from . import GitLabDouble, serve_double
from .console import DoubleConsole


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stackyard.devtools.gitlab_double")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9999)
    parser.add_argument("--token", default="glpat-demo")
    parser.add_argument("--username", default="stackyard-bot")
    parser.add_argument("--project", action="append", default=None, help="full path; repeatable")
    parser.add_argument("--console", action="store_true", help="act as a GitLab user from a prompt on stdin")
    args = parser.parse_args(argv)
    double = GitLabDouble()
    # The first user authors what the console does; Stackyard's token belongs to a bot user, as on GitLab.
    double.add_user("alice", name="Alice Example")
    double.add_user(args.username, token=args.token, scopes=("api",), bot=True)
    projects = args.project or ["group/app"]
    for path in projects:
        project = double.add_project(path, files={"main.tf": 'terraform {}\n'})
        print(f"project {project.id}: {path}", flush=True)
    with serve_double(double, host=args.host, port=args.port) as base_url:
        print(f"GitLab double at {base_url} (token {args.token}); Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            if args.console:
                DoubleConsole(double, projects[0]).cmdloop()
            else:
                threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
