"""``tt migrate``: move keys of older tinytown versions into this town's format."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

from cyclopts import Parameter

from tinytown.cli.output import say, warn

if TYPE_CHECKING:
    from tinytown.town import Town

Flag = Annotated[bool, Parameter(negative=())]


def _confirm(title: str, lines: list[str]) -> bool:
    """Show the warning and ask on stderr; anything but y/Y (or end of input) declines."""
    say(title)
    say()
    for line in lines:
        say(line)
    say()
    say("   This operation cannot be undone.")
    say()
    say("   Run with --force to skip this prompt, or --dry-run to preview.")
    say()
    sys.stdout.flush()
    sys.stderr.write("   Continue? [y/N]: ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip()
    if answer not in ("y", "Y"):
        say("   Migration cancelled.")
        return False
    return True


def _failures(failed: list[tuple[str, str]]) -> None:
    if not failed:
        return
    warn(f"   ⚠️  {len(failed)} key(s) failed to migrate:")
    for key, why in failed:
        warn(f"      - {key}: {why}")


HASH_HINT = (
    "   ⚠️  {n} agent/task record(s) are stored as JSON strings (an older format): "
    "run 'tt migrate --hash'{after} to convert them"
)


async def _hash_hint(town: Town, plan: list[tuple[str, str]] | None = None) -> None:
    """Say when records (in the town, or about to be moved into it) also need ``--hash``."""
    from tinytown.services.migrate import preview_hash

    if plan is None:
        n = len(await preview_hash(town))
    else:
        records = [old for old, new in plan if ":agent:" in new or ":task:" in new]
        pipe = town.redis.pipeline()
        for key in records:
            pipe.cmd("TYPE", key)
        types = await pipe.execute() if records else []
        n = sum(1 for t in types if t == "string")
    if n:
        say(HASH_HINT.format(n=n, after=" after this migration" if plan is not None else ""))


async def _isolation(town: Town, *, dry_run: bool, force: bool) -> int:
    from tinytown.services.migrate import migrate_isolation, preview_isolation

    plan = await preview_isolation(town)
    if dry_run:
        say("🔍 Migration Preview (dry run)")
        say(f"   Town: {town.name}")
        say()
        if not plan:
            say("   No old-format keys found.")
            return 0
        say("   Keys to migrate:")
        for old, new in plan:
            say(f"   {old} → {new}")
        say()
        say(f"   Total: {len(plan)} key(s) would be migrated")
        say()
        say("   Run 'tt migrate' (without --dry-run) to perform migration.")
        await _hash_hint(town, plan)
        return 0
    if not plan:
        say("✅ No migration needed - all keys already use town isolation format")
        say(f"   Town: {town.name}")
        await _hash_hint(town)
        return 0
    lines = [
        "   This will migrate old Redis keys to the new town-isolated format:",
        f"   tt:type:id → tt:{town.name}:type:id",
    ]
    if not force and not _confirm("⚠️  Migration Warning", lines):
        return 0
    say("🔄 Migrating to town isolation...")
    say(f"   Town: {town.name}")
    say()
    report = await migrate_isolation(town)
    say("✅ Migration complete!")
    say(f"   Agents migrated:  {report.count('agent')}")
    say(f"   Inboxes migrated: {report.count('inbox')}")
    say(f"   Tasks migrated:   {report.count('task')}")
    say(f"   Other keys:       {report.other}")
    await _hash_hint(town)
    _failures(report.failed)
    return len(report.failed)


async def _hash(town: Town, *, dry_run: bool, force: bool) -> int:
    from tinytown.services.migrate import migrate_hash, preview_hash

    strings = await preview_hash(town)
    if dry_run:
        say("🔍 JSON-to-Hash Migration Preview (dry run)")
        say(f"   Town: {town.name}")
        say()
        if not strings:
            say("   No JSON string keys found.")
            return 0
        say("   Keys to convert to Hash:")
        for key in strings:
            say(f"   {key} (string → hash)")
        say()
        say(f"   Total: {len(strings)} key(s) would be migrated")
        say()
        say("   Run 'tt migrate --hash' (without --dry-run) to perform migration.")
        return 0
    if not strings:
        say("✅ No JSON-to-Hash migration needed - all keys already use Hash storage")
        say(f"   Town: {town.name}")
        return 0
    lines = [
        "   This will convert JSON string storage to Redis Hash format.",
        "   Benefits: atomic field updates, memory efficiency, partial reads.",
    ]
    if not force and not _confirm("⚠️  JSON-to-Hash Migration Warning", lines):
        return 0
    say("🔄 Migrating JSON strings to Redis Hashes...")
    say(f"   Town: {town.name}")
    say()
    report = await migrate_hash(town)
    say("✅ JSON-to-Hash migration complete!")
    say(f"   Agents migrated: {report.agents}")
    say(f"   Tasks migrated:  {report.tasks}")
    say(f"   Already hash:    {report.already_hash}")
    for key, why in report.skipped:
        warn(f"   ⚠️  Skipped {key}: {why}")
    _failures(report.failed)
    return len(report.failed)


def migrate(
    *,
    dry_run: Flag = False,
    force: Flag = False,
    hash: Annotated[bool, Parameter(negative=())] = False,
) -> None:
    """Migrate keys of older tinytown versions into this town.

    By default renames pre-isolation keys (tt:agent:<id>, tt:inbox:<id>,
    tt:task:<id>, tt:backlog, ...) to this town's keys (tt:<town>:agent:<id>, ...).
    A key whose new name already exists is left alone and reported.
    Idempotent: migrated keys no longer match. Agent and task records still
    stored as JSON strings also need 'tt migrate --hash'; the output says so.

    Parameters
    ----------
    dry_run : bool
        Only show what would be migrated; change nothing.
    force : bool
        Do not ask for confirmation.
    hash : bool
        Instead, convert agent and task records stored as JSON strings into hashes.
    """
    from tinytown.cli.runner import fail, run_town
    from tinytown.errors import MigrationError

    async def body(town: Town) -> int:
        if hash:
            return await _hash(town, dry_run=dry_run, force=force)
        return await _isolation(town, dry_run=dry_run, force=force)

    failed = run_town(body)
    if failed:
        fail(MigrationError(f"{failed} key(s) failed to migrate (listed above)"))
