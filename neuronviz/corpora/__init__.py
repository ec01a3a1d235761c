"""Corpora, their readers and the task registry."""

from neuronviz.corpora.corpus import Corpus, tokens_digest
from neuronviz.corpora.readers import (
    read_conll2000,
    read_conllu,
    read_parallel,
    read_pmb,
    read_ptb,
)
from neuronviz.corpora.sources import CORPORA, locate_corpus
from neuronviz.corpora.tasks import SPLITS, TASKS, TaskData, TaskSplit, load_task, parse_task_name

__all__ = [
    "CORPORA",
    "SPLITS",
    "TASKS",
    "Corpus",
    "TaskData",
    "TaskSplit",
    "load_task",
    "locate_corpus",
    "parse_task_name",
    "read_conll2000",
    "read_conllu",
    "read_parallel",
    "read_pmb",
    "read_ptb",
    "tokens_digest",
]
