from __future__ import annotations

import time

import pytest

from voxelle_app.core import errors as e


@pytest.mark.parametrize(
    ("cls", "parent"),
    [
        (e.ValidationError, e.VoxelleError),
        (e.ConfigurationError, e.VoxelleError),
        (e.TTSError, e.OperationError),
        (e.STTError, e.OperationError),
        (e.T2TError, e.OperationError),
        (e.AudioFilterError, e.OperationError),
        (e.ProcessError, e.VoxelleError),
        (e.AuthenticationError, e.APIError),
        (e.AuthorizationError, e.APIError),
        (e.RateLimitError, e.APIError),
        (e.DatabaseError, e.BackendError),
        (e.IntegrationError, e.BackendError),
    ],
)
def test_hierarchy(cls: type[e.VoxelleError], parent: type[e.VoxelleError]) -> None:
    assert issubclass(cls, parent) and issubclass(cls, e.VoxelleError)


def test_error_carries_message_context_time_and_component() -> None:
    before = time.time()
    err = e.STTError("Could not load the model.", hint="Pick another.", context={"path": "/x"})
    assert err.message == "Could not load the model."
    assert err.context == {"path": "/x"}
    assert err.component == "stt"
    assert before <= err.timestamp <= time.time()
    assert err.user_message() == "Could not load the model. Pick another."
    assert e.ConfigurationError("x", component="audio").component == "audio"


def test_rate_limit_keeps_retry_after() -> None:
    assert e.RateLimitError("slow down", retry_after=2.5).retry_after == 2.5


def test_describe_gives_a_sentence_for_foreign_errors() -> None:
    assert e.describe(FileNotFoundError("no such file")) == "FileNotFoundError: no such file"
    assert e.describe(e.ValidationError("Bad.", hint="Fix it.")) == "Bad. Fix it."
