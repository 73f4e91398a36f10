"""The deploy window in the console's words (pure): the header's compact line, the Plan view's
phase and item rows, which phase keys have something to do, outside text kept out of markup."""

from __future__ import annotations

from textual.content import Content

from sbtop.console import plan_text
from sbtop.engine.figures import judge
from sbtop.engine.settings import EngineSettings
from sbtop.engine.window import (
    CriterionSettings,
    ItemKind,
    ItemRecord,
    PhaseRecord,
    PhaseSettings,
    PlanSettings,
    PlanState,
    PreflightSettings,
    Risk,
    Status,
    When,
    Window,
    judge_window,
)

NOW = 1_000_000.0
SETTINGS = PlanSettings(
    phases=(PhaseSettings("Database indexes", Risk.LOW, 300, 600, watch_s=600),
            PhaseSettings("Prisma singleton", Risk.LOW, 120, 120, watch_s=300,
                          rollback=("git", "revert", "HEAD"), rollback_note="then push"),
            PhaseSettings("Optimized routes", Risk.MEDIUM, 900, 900, watch_s=900,
                          canary=True)),
    preflight=(PreflightSettings("All tests passing locally"),
               PreflightSettings("Baseline captured", ItemKind.BASELINE)))


def window(phases: dict[str, PhaseRecord] | None = None,
           items: dict[str, ItemRecord] | None = None, now: float = NOW) -> Window:
    return judge_window(SETTINGS, PlanState(phases or {}, items or {}), {}, now)


def watching(since: float) -> PhaseRecord:
    return PhaseRecord(Status.WATCHING, started_wall=since, watch_from_wall=since)


def test_the_header_says_how_many_pre_flight_items_fail_before_phase_one() -> None:
    failed = {"Baseline captured": ItemRecord(False, "no baseline", NOW)}
    assert "PRE-FLIGHT 1 item failing" in plan_text.header_line(window(items=failed))
    assert "PRE-FLIGHT[/] 2 of 2 open" in plan_text.header_line(window())


def test_the_header_counts_down_the_phase_in_hand() -> None:
    w = window({"Database indexes": PhaseRecord(Status.PASSED),
                "Prisma singleton": watching(NOW - 48)})
    assert plan_text.header_line(w) == ("[b]PLAN 2/3[/] Prisma singleton: watching "
                                        "[b]4m12s[/] left")
    over = window({"Database indexes": watching(NOW - 601)})
    assert "ready to pass" in plan_text.header_line(over)


def test_the_header_says_done_and_rolled_back() -> None:
    done = window({p.name: PhaseRecord(Status.PASSED) for p in SETTINGS.phases})
    assert "done 3/3" in plan_text.header_line(done)
    rolled = window({"Database indexes": PhaseRecord(Status.ROLLED_BACK)})
    assert "1 rolled back" in plan_text.header_line(rolled)
    assert plan_text.header_line(None) == ""


def test_a_phase_row_has_its_risk_expected_duration_watch_and_state_in_words() -> None:
    w = window({"Prisma singleton": watching(NOW - 60)})
    row = plan_text.phase_line(w.phases[1], 16)
    assert "low" in row and "2m " in row and "watch 5m" in row and "WATCHING" in row
    assert "4m00s[/] left of 5m" in row
    assert "5m-10m" in plan_text.phase_line(w.phases[0], 16)
    assert "canary ladder" in plan_text.phase_line(w.phases[2], 16)
    assert plan_text.rollback_lines(w.phases[1]) == [
        "    [b]b[/] rolls it back: runs git revert HEAD", "      [$text-muted]then push[/]"]


def test_the_phase_keys_have_something_to_do_only_in_the_right_state() -> None:
    w = window({"Database indexes": PhaseRecord(Status.PASSED),
                "Prisma singleton": watching(NOW)})
    passed, in_hand, pending = w.phases
    assert plan_text.keys_for(passed, w) == plan_text.Keys(False, False, True)
    assert plan_text.keys_for(in_hand, w) == plan_text.Keys(False, True, True)
    # Another phase in hand: the next one cannot start yet.
    assert plan_text.keys_for(pending, w) == plan_text.Keys(False, False, False)
    fresh = window()
    assert plan_text.keys_for(fresh.phases[0], fresh).start


def test_outside_text_in_an_item_is_never_markup() -> None:
    hostile = {"Baseline captured": ItemRecord(False, "[b red]boom\x1b]52;c;x\x07", NOW)}
    item = window(items=hostile).preflight[1]
    line = plan_text.item_line(item, 20)
    assert "\\[b red]" in line and "\x1b" not in line and "\\x1b" in line


def test_an_overridden_item_says_so_first() -> None:
    items = {"Baseline captured": ItemRecord(False, "no baseline captured (a long why)", NOW,
                                             overridden="ana: the first step takes it")}
    line = plan_text.item_line(window(items=items).preflight[1], 20)
    assert line.index("overridden") < line.index("no baseline captured")
    assert line.count("overridden") == 1


def test_each_contact_is_wrapped_at_a_word_never_cut_at_the_edge() -> None:
    lines = plan_text.contact_lines(
        ("On call: primary [Your Name], secondary [Team Member], escalation [Tech Lead]",
         "Tell: Slack #studybuddy-alerts"), 76)
    shown = [line.replace("[b]", "").replace("[/]", "").replace("\\[", "[") for line in lines]
    assert all(len(line) <= 76 for line in shown)
    assert " ".join(x.strip() for x in shown).replace("Contacts  ", "") == (
        "On call: primary [Your Name], secondary [Team Member], escalation [Tech Lead] "
        "Tell: Slack #studybuddy-alerts")
    assert shown[0].startswith("Contacts  On call:") and shown[-1].startswith(" " * 10 + "Tell:")


def test_a_watch_over_is_ready_to_pass_only_when_the_engine_says_so() -> None:
    # The engine would refuse a plain pass (a failed rollback left the phase in; a stretch of
    # the watch nobody looked at): the header and the view said "ready to pass (P)" over it.
    rollback_failed = PhaseRecord(Status.WATCHING, started_wall=NOW - 601,
                                  watch_from_wall=NOW - 601,
                                  result="rollback failed: false exited 1: no output")
    w = window({"Database indexes": rollback_failed})
    p = w.phases[0]
    assert not p.ready
    assert "ROLLBACK FAILED (still in)" in plan_text.short_verdict(p)
    assert "ROLLBACK FAILED (still in)" in plan_text.countdown(p)
    assert "ready" not in plan_text.header_line(w)

    guarded = PlanSettings(phases=(PhaseSettings(
        "Database indexes", watch_s=600,
        criteria=(CriterionSettings("error_rate_5xx_pct", "<", 1.0, When.DURING),)),))
    unseen = PhaseRecord(Status.WATCHING, started_wall=NOW - 601, watch_from_wall=NOW - 601,
                         looked_wall=NOW - 601)
    low = {"error_rate_5xx_pct": judge("error_rate_5xx_pct", 0.2, EngineSettings())}
    p = judge_window(guarded, PlanState({"Database indexes": unseen}, {}), low, NOW).phases[0]
    assert p.unwatched is not None and not p.ready
    for said in (plan_text.short_verdict(p), plan_text.countdown(p)):
        assert "ready" not in said and "not judged" in said
    assert "a pass needs an override" in plan_text.countdown(p)


def test_an_override_says_which_step_it_let_through() -> None:
    # Started past open pre-flight items, passed on its figures: the row said OVERRIDE alone,
    # read as a pass forced through.
    def row(override: str) -> str:
        rec = PhaseRecord(Status.PASSED, started_wall=NOW - 900, ended_wall=NOW, by="ana",
                          override=override)
        return plan_text.phase_line(window({"Database indexes": rec}).phases[0], 18)

    assert "OVERRIDE (start)[/]" in row("backup confirmed on the phone")
    assert "OVERRIDE (pass)[/]" in row("pass: p95 judged by hand")
    assert "OVERRIDE (start, pass)[/]" in row("backup by phone; pass: p95 judged by hand")


def test_what_a_phase_row_says_goes_under_it_when_it_does_not_fit_never_cut() -> None:
    failed = PhaseRecord(Status.WATCHING, started_wall=NOW - 601, watch_from_wall=NOW - 601,
                         result="rollback failed: sh exited 3: psql: could not connect to "
                                "server: Connection refused")
    rec = PhaseRecord(Status.PASSED, started_wall=NOW - 900, ended_wall=NOW, by="ana",
                      override="backup confirmed on the phone")
    broke = PhaseRecord(Status.FAILED, started_wall=NOW - 60, result=failed.result)
    for record, said in ((failed, "ROLLBACK FAILED (still in)"), (rec, "OVERRIDE (start)"),
                         (broke, "Connection refused")):
        lines = plan_text.phase_lines(window({"Database indexes": record}).phases[0], 18, 76)
        plain = [Content.from_markup(x).plain for x in lines]
        assert all(len(x) <= 76 for x in plain), plain
        assert said in " ".join(plain), plain
    wide = plan_text.phase_lines(window({"Database indexes": rec}).phases[0], 18, 200)
    assert len(wide) == 1 and "OVERRIDE (start)" in wide[0]


def test_rows_under_a_phase_fit_in_cells_whatever_the_text() -> None:
    # Wrapped by characters, two-cell text (Japanese, emoji) ran 135 cells on a 78-cell line;
    # control characters, shown as their escapes after the cut, 114; a long "by" was not
    # wrapped at all.
    result = "デプロイ失敗 " * 12 + "🚀" * 39
    cases = [PhaseRecord(Status.FAILED, started_wall=NOW - 60, result=result),
             PhaseRecord(Status.RUNNING, started_wall=NOW - 60, result="start: " + result),
             PhaseRecord(Status.FAILED, started_wall=NOW - 60, result="a\x1b[31m" * 30),
             PhaseRecord(Status.PASSED, started_wall=NOW - 900, ended_wall=NOW, by="x" * 60,
                         override="y; pass: z")]
    for rec in cases:
        lines = plan_text.phase_lines(window({"Database indexes": rec}).phases[0], 18, 60)
        assert len(lines) > 1
        for line in lines:
            assert Content.from_markup(line).cell_length <= 60, line
        said = "".join(Content.from_markup(x).plain.strip() for x in lines[1:])
        assert "\x1b" not in said
    assert plan_text.wrap("デプロイ失敗 デプロイ失敗", 30, 4, 4) == ["デプロイ失敗 デプロイ失敗"]
    assert plan_text.wrap("ab " + "c" * 50, 30, 4, 4) == ["ab", "c" * 26, "c" * 24]
