"""Tinytown's benchmark harness: ``python -m benchmarks [NAME…] [--quick]``.

Benchmarks (each a module with ``run(quick) -> Outcome``):

* ``latency`` — message hand-off, request/response and PING: ours (unix socket
  and TCP) against the floors (raw sockets; Trio, threads, asyncio and uvloop
  on raw sockets), redis-py (sync, ``trio.to_thread``) and coredis;
* ``throughput`` — pipelined sends into one inbox and N senders × M receivers;
* ``scale`` — ``tt status --tasks``, ``tt inbox --all`` and ``tt list`` at 10 to
  1,000 agents and 1k to 100k tasks: time, round trips, growth; ``tt status``
  against a raw pipelined fetch of the same data; agent lookup by name vs id;
* ``runtime`` — RSS of one runtime hosting 1/10/100 idle agents, and the time
  from ``tt assign`` to the agent's model process starting;
* ``startup`` — ``tt`` as installed: ``tt --help`` against a one-command
  cyclopts app running its command, and the agent-facing commands (through the
  town's command server and in-process) against the Rust tinytown 0.10 binary;
* ``e2e`` — tasks/s and CPU per task with 1, 4 and 16 demo agents against the
  floor of one trivial Python process per task; runtime fds and Redis
  connections per agent.

Every benchmark records the CPU share of the machine's other processes and
flags the run as noisy above 25 %.

Each starts its own redis-server(s) from the bundled binary in a temp dir and
stops them by PID. A benchmark whose dependency is missing reports
``skipped: <reason>``. Results go to ``benchmarks/results/`` (see
:mod:`benchmarks.report`).
"""
