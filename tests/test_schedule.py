from newsmirror.errors import NewsmirrorError
from newsmirror.run.watch import watch


def test_watch_repeats_and_survives_a_failing_run():
    calls, errors, sleeps = [], [], []

    def run():
        calls.append(1)
        if len(calls) == 2:
            raise NewsmirrorError("https://n.example/feed", "fetch", "HTTP 503")

    assert watch(run, 60, runs=3, on_error=errors.append, sleep=sleeps.append) == 3
    assert len(calls) == 3 and len(errors) == 1 and "HTTP 503" in str(errors[0])
    assert len(sleeps) == 2 and all(0 < s <= 60 for s in sleeps)
