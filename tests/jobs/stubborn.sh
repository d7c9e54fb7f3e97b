#!/usr/bin/env bash
# Ignores SIGTERM and leaves a double-forked (setsid) daemon behind: only SIGKILL of everything ends it.
trap '' TERM
echo "stubborn started $$"
( setsid bash -c 'trap "" TERM; exec -a trainplane-e2e-orphan-$TEST_MARKER sleep 100000' & )
exec -a "trainplane-e2e-stubborn-$TEST_MARKER" sleep 100000
