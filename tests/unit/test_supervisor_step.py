"""The local supervisor's stop protocol as a pure function: every path, no processes."""

from __future__ import annotations

from trainplane.executors.supervisor.stop_protocol import (
    BeginStop,
    Finish,
    Observations,
    Report,
    SendKill,
    SendTerm,
    Spawn,
    Stage,
    State,
    StopOrder,
    next_wakeup,
    step,
)

STOP = StopOrder(reason="user", deadline=110.0)


def running() -> State:
    return State(is_staged=True, is_spawned=True)


def test_a_new_job_is_staged_then_spawned() -> None:
    state, actions = step(State(), 0.0, Observations())
    assert actions == [Stage()]
    state, actions = step(state, 0.1, Observations(is_staged=True))
    assert actions == [Spawn()]
    assert state.is_spawned


def test_stop_before_staging_never_spawns() -> None:
    state, actions = step(State(), 0.0, Observations(stop=STOP))
    assert actions == [Report(), Finish()]
    assert state.is_done and not state.is_spawned


def test_stop_during_staging_never_spawns() -> None:
    state, _ = step(State(), 0.0, Observations())
    state, actions = step(state, 1.0, Observations(stop=STOP, is_staged=True))
    assert Spawn() not in actions
    assert actions[-1] == Finish()
    assert state.is_done and not state.is_spawned


def test_staging_failure_finishes_without_spawning() -> None:
    state, actions = step(State(), 0.0, Observations(has_staging_failed=True))
    assert actions == [Finish()]
    assert state.is_done and not state.is_spawned


def test_running_job_without_events_does_nothing_and_sleeps_indefinitely() -> None:
    state, actions = step(running(), 5.0, Observations())
    assert actions == []
    assert next_wakeup(state) is None


def test_stop_sends_term_and_wakes_at_the_deadline() -> None:
    state, actions = step(running(), 100.0, Observations(stop=STOP))
    assert actions == [Report(), SendTerm()]
    assert next_wakeup(state) == STOP.deadline


def test_kill_at_the_deadline_not_before() -> None:
    state, _ = step(running(), 100.0, Observations(stop=STOP))
    state, actions = step(state, 109.999, Observations(stop=STOP))
    assert actions == []
    state, actions = step(state, 110.0, Observations(stop=STOP))
    assert actions == [SendKill("deadline")]
    assert next_wakeup(state) is None


def test_main_exit_after_kill_finishes_with_a_final_sweep() -> None:
    state, _ = step(running(), 100.0, Observations(stop=STOP))
    state, _ = step(state, 110.0, Observations(stop=STOP))
    state, actions = step(state, 110.01, Observations(stop=STOP, has_main_exited=True))
    assert actions == [SendKill("main_exited"), Finish()]
    assert state.is_done
    assert step(state, 111.0, Observations(stop=STOP, has_main_exited=True)) == (state, [])


def test_exit_during_the_window_ends_it_early() -> None:
    state, _ = step(running(), 100.0, Observations(stop=STOP))
    state, actions = step(state, 100.5, Observations(stop=STOP, has_main_exited=True))
    assert actions == [SendKill("main_exited"), Finish()]
    assert state.is_done and state.is_term_sent and not state.is_kill_sent


def test_exit_without_a_stop_kills_what_the_job_left_behind() -> None:
    state, actions = step(running(), 5.0, Observations(has_main_exited=True))
    assert actions == [SendKill("main_exited"), Finish()]
    assert state.stop is None and not state.is_term_sent


def test_checkpoint_complete_in_the_window_kills_at_once() -> None:
    state, _ = step(running(), 100.0, Observations(stop=STOP))
    state, actions = step(state, 101.0, Observations(stop=STOP, has_checkpoint_completed=True))
    assert actions == [Report(), SendKill("checkpoint_complete")]
    assert state.has_complete_checkpoint


def test_checkpoint_complete_outside_a_stop_is_only_recorded() -> None:
    state, actions = step(running(), 5.0, Observations(has_checkpoint_completed=True))
    assert actions == [Report()]
    assert state.has_complete_checkpoint
    # A later stop still gets its full window: the old checkpoint does not end it.
    state, actions = step(state, 100.0, Observations(stop=STOP))
    assert actions == [Report(), SendTerm()]
    assert next_wakeup(state) == STOP.deadline


def test_checkpoint_arriving_with_the_stop_does_not_skip_the_window() -> None:
    observations = Observations(stop=STOP, has_checkpoint_completed=True)
    state, actions = step(running(), 100.0, observations)
    assert SendTerm() in actions
    assert not any(isinstance(action, SendKill) for action in actions)
    assert next_wakeup(state) == STOP.deadline


def test_repeated_stop_requests_deliver_one_sigterm() -> None:
    state, first = step(running(), 100.0, Observations(stop=STOP))
    later = StopOrder(reason="user", deadline=STOP.deadline)
    terms = [action for action in first if action == SendTerm()]
    for now in (100.1, 100.2, 100.3):
        state, actions = step(state, now, Observations(stop=later))
        terms += [action for action in actions if action == SendTerm()]
    assert len(terms) == 1


def test_a_later_stop_never_extends_the_deadline() -> None:
    state, _ = step(running(), 100.0, Observations(stop=STOP))
    extended = StopOrder(reason="max_runtime", deadline=500.0)
    state, actions = step(state, 101.0, Observations(stop=extended))
    assert state.stop == STOP
    assert actions == []
    state, actions = step(state, 110.0, Observations(stop=extended))
    assert actions == [SendKill("deadline")]


def test_a_later_stop_may_shorten_the_deadline_but_keeps_the_first_reason() -> None:
    state, _ = step(running(), 100.0, Observations(stop=STOP))
    sooner = StopOrder(reason="preempted", deadline=105.0)
    state, _ = step(state, 101.0, Observations(stop=sooner))
    assert state.stop == StopOrder(reason="user", deadline=105.0)
    assert next_wakeup(state) == 105.0


def test_a_stop_past_its_deadline_terms_and_kills_at_once() -> None:
    state, actions = step(running(), 200.0, Observations(stop=STOP))
    assert actions == [Report(), SendTerm(), SendKill("deadline")]
    assert state.is_kill_sent


def test_no_wakeup_before_spawn_or_after_done() -> None:
    assert next_wakeup(State(stop=STOP)) is None
    done, _ = step(running(), 1.0, Observations(has_main_exited=True))
    assert next_wakeup(done) is None


def test_after_main_exits_in_the_window_the_rest_may_finish_saving() -> None:
    state, _ = step(running(), 100.0, Observations(stop=STOP))
    observations = Observations(stop=STOP, has_main_exited=True, has_job_processes=True)
    state, actions = step(state, 101.0, observations)
    assert actions == []
    assert next_wakeup(state) == STOP.deadline
    state, actions = step(state, 102.0, Observations(stop=STOP, has_main_exited=True))
    assert actions == [SendKill("main_exited"), Finish()]


def test_leftovers_still_running_at_the_deadline_are_killed() -> None:
    state, _ = step(running(), 100.0, Observations(stop=STOP))
    observations = Observations(stop=STOP, has_main_exited=True, has_job_processes=True)
    state, _ = step(state, 101.0, observations)
    state, actions = step(state, 110.0, observations)
    assert actions == [SendKill("deadline")]
    state, actions = step(state, 110.01, Observations(stop=STOP, has_main_exited=True))
    assert actions == [SendKill("main_exited"), Finish()]


def test_main_policy_kills_leftovers_when_the_entrypoint_exits() -> None:
    state = State(is_group_policy=False, is_staged=True, is_spawned=True)
    state, _ = step(state, 100.0, Observations(stop=STOP))
    observations = Observations(stop=STOP, has_main_exited=True, has_job_processes=True)
    state, actions = step(state, 101.0, observations)
    assert actions == [SendKill("main_exited"), Finish()]


def limited() -> State:
    """A job with MaxRuntime 2 s and grace 5 s whose process started at 10.0."""
    state = State(max_runtime_seconds=2.0, grace_seconds=5.0, is_staged=True)
    state, actions = step(state, 9.9, Observations(is_staged=True))
    assert actions == [Spawn()]
    state, _ = step(state, 10.0, Observations(spawned_at=10.0))
    return state


def test_max_runtime_counts_from_the_process_start_and_wakes_the_shell() -> None:
    assert next_wakeup(limited()) == 12.0


def test_max_runtime_starts_the_stop_protocol_with_the_jobs_grace() -> None:
    state = limited()
    state, actions = step(state, 11.9, Observations())
    assert actions == []
    state, actions = step(state, 12.0, Observations())
    order = StopOrder(reason="max_runtime", deadline=17.0)
    assert actions == [BeginStop(order), SendTerm()]
    assert state.stop == order and next_wakeup(state) == 17.0
    state, actions = step(state, 17.0, Observations())
    assert actions == [SendKill("deadline")]


def test_a_stop_before_max_runtime_keeps_its_own_reason() -> None:
    state = limited()
    state, _ = step(state, 11.0, Observations(stop=STOP))
    state, actions = step(state, 12.5, Observations(stop=STOP))
    assert not any(isinstance(action, BeginStop) for action in actions)
    assert state.stop == STOP


def test_a_job_that_exits_before_max_runtime_is_not_stopped() -> None:
    state = limited()
    state, actions = step(state, 13.0, Observations(has_main_exited=True))
    assert actions == [SendKill("main_exited"), Finish()]
    assert state.stop is None
