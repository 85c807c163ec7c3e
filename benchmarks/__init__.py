"""Tinytown's benchmark harness: ``python -m benchmarks [NAME…] [--quick]``.

Benchmarks (each a module with ``run(quick) -> Outcome``):

* ``latency`` — message hand-off, request/response and PING: ours (unix socket
  and TCP) against raw sockets, redis-py (sync, ``trio.to_thread``) and coredis;
* ``throughput`` — pipelined sends into one inbox and N senders × M receivers;
* ``scale`` — ``tt status --tasks``, ``tt inbox --all`` and ``tt list`` at 10 to
  1,000 agents and 1k to 100k tasks: time, round trips, growth;
* ``runtime`` — RSS of one runtime hosting 1/10/100 idle agents, and the time
  from ``tt assign`` to the agent's model process starting;
* ``startup`` — ``tt --help`` and ``tt status`` against ``python -c pass`` and a
  one-command cyclopts app.

Each starts its own redis-server(s) from the bundled binary in a temp dir and
stops them by PID. A benchmark whose dependency is missing reports
``skipped: <reason>``. Results go to ``benchmarks/results/`` (see
:mod:`benchmarks.report`).
"""
