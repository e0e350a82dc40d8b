"""Python client of the KATO session manager and processors (needs only httpx and websockets).

    from kato.client import KatoClient

    with KatoClient("http://127.0.0.1:8080", api_key=None) as kato:
        with kato.session(user_id="alice") as s:        # deleted when the block ends
            s.observe(strings=["hello"])
            s.observe(strings=["world"])
            s.learn()
            print(s.predictions().predictions)
        for event in kato.events(after=0, follow=False):
            print(event.id, event.type, event.session_id)

`AsyncKatoClient`, `AsyncSession` and `AsyncProcessorClient` are the async twins, with the
same method names. Errors: `KatoError` and its subclasses (the tree is drawn in
`kato/client/_errors.py`).

This module is the whole public API. The rest is private (`_name`): the async half is written
by hand in `_async/`, and `_sync/` is generated from it by scripts/unasync.py.
"""

from kato.webhook_signing import SIGNATURE_HEADER

from ._async.client import AsyncKatoClient, AsyncProcessorClient, AsyncSession
from ._async.stream import AsyncProcessorStream
from ._calls import DEFAULT_TIMEOUT, RetryPolicy
from ._errors import (
    AuthError,
    CapacityError,
    KatoError,
    KatoTimeoutError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    UnavailableError,
    ValidationError,
    WebhookSignatureError,
)
from ._models import (
    CognitionData,
    Event,
    GeneResult,
    Health,
    ImportResult,
    LearnResult,
    Metrics,
    Observation,
    ObserveResult,
    ObserveSequenceResult,
    Pattern,
    PatternResult,
    PerceptData,
    Pong,
    Prediction,
    PredictionsResult,
    ProcessorStatus,
    Ready,
    SessionInfo,
    SessionPage,
    StatusMessage,
    StmResult,
)
from ._sync.client import KatoClient, ProcessorClient, Session
from ._sync.stream import ProcessorStream
from ._webhooks import verify_webhook

__all__ = [
    "DEFAULT_TIMEOUT",
    "SIGNATURE_HEADER",
    "AsyncKatoClient",
    "AsyncProcessorClient",
    "AsyncProcessorStream",
    "AsyncSession",
    "AuthError",
    "CapacityError",
    "CognitionData",
    "Event",
    "GeneResult",
    "ImportResult",
    "Health",
    "KatoClient",
    "KatoError",
    "KatoTimeoutError",
    "LearnResult",
    "Metrics",
    "NotFoundError",
    "Observation",
    "ObserveResult",
    "ObserveSequenceResult",
    "Pattern",
    "PatternResult",
    "PerceptData",
    "Pong",
    "Prediction",
    "PredictionsResult",
    "ProcessorClient",
    "ProcessorStatus",
    "ProcessorStream",
    "ProtocolError",
    "RateLimitError",
    "Ready",
    "RetryPolicy",
    "Session",
    "SessionInfo",
    "SessionPage",
    "StatusMessage",
    "StmResult",
    "UnavailableError",
    "ValidationError",
    "WebhookSignatureError",
    "verify_webhook",
]
