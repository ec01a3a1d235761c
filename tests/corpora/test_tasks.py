"""Task registry: built-in tasks on a data folder, user tasks on paths, splits and caps."""

from __future__ import annotations

import pytest

from neuronviz.corpora.tasks import TASKS, carve, load_task, parse_task_name
from neuronviz.errors import ConfigError, DataError


@pytest.mark.parametrize(
    ("task", "column"),
    [("pos", "pos"), ("chunk", "chunk"), ("sem", "sem"), ("ccg", "ccg"), ("ptb-pos", "pos")],
)
def test_builtin_tasks_have_three_aligned_splits(data_dir, task, column):
    data = load_task(task, data_dir=data_dir)
    assert set(data.splits) == {"train", "dev", "test"}
    assert data.column == column
    for split in data.splits.values():
        assert split.n_sentences > 0
        assert [len(s) for s in split.tokens] == [len(s) for s in split.labels]


def test_conll2000_dev_is_carved_from_the_end_of_train(data_dir):
    data = load_task("pos", data_dir=data_dir)
    assert data["train"].n_sentences == 54 and data["dev"].n_sentences == 6  # 60 sentences, 10%
    again = load_task("pos", data_dir=data_dir)
    assert again["dev"].tokens == data["dev"].tokens
    assert data["train"].digest != data["dev"].digest


def test_tasks_on_one_corpus_share_tokens_but_not_labels(data_dir):
    pos, chunk = load_task("pos", data_dir=data_dir), load_task("chunk", data_dir=data_dir)
    assert pos["train"].digest == chunk["train"].digest
    assert pos["train"].labels != chunk["train"].labels


def test_max_sentences_caps_each_split(data_dir):
    data = load_task("sem", data_dir=data_dir, max_sentences=3)
    assert all(s.n_sentences == 3 for s in data.splits.values())
    assert data["train"].digest != load_task("sem", data_dir=data_dir)["train"].digest
    with pytest.raises(ConfigError, match="at least 1"):
        load_task("sem", data_dir=data_dir, max_sentences=0)


def test_carve_is_contiguous_and_complete(data_dir):
    corpus = load_task("pos", data_dir=data_dir)["train"]
    from neuronviz.corpora.corpus import Corpus

    c = Corpus("x", corpus.tokens, {"pos": corpus.labels})
    parts = carve(c, (0.8, 0.1, 0.1))
    assert sum(len(p) for p in parts) == len(c)
    assert [s for p in parts for s in p.tokens] == c.tokens


def test_unknown_task_and_missing_path():
    with pytest.raises(ConfigError, match="unknown task 'nope'"):
        parse_task_name("nope")
    with pytest.raises(ConfigError, match="needs a path"):
        parse_task_name("upos")
    with pytest.raises(ConfigError, match="takes no path"):
        parse_task_name("pos:/tmp")
    assert {"pos", "chunk", "sem", "ccg", "ptb-pos", "upos", "xpos", "deprel"} <= set(TASKS)


def test_missing_corpus_offline_names_the_variable(tmp_path):
    with pytest.raises(DataError, match="NEURONVIZ_DATA"):
        load_task("pos", data_dir=tmp_path)


def _conllu_sentence(i: int) -> str:
    return (
        f"# sent_id = {i}\n1\tWord{i}\tw\tNOUN\tNN\t_\t0\troot\t_\t_\n"
        f"2\truns\trun\tVERB\tVBZ\t_\t1\tacl\t_\t_\n\n"
    )


def test_conllu_task_from_one_file_is_split_80_10_10(tmp_path):
    path = tmp_path / "my.conllu"
    path.write_text("".join(_conllu_sentence(i) for i in range(20)))
    data = load_task(f"upos:{path}")
    assert [data[s].n_sentences for s in ("train", "dev", "test")] == [16, 2, 2]
    assert data["train"].labels[0] == ["NOUN", "VERB"]
    assert load_task(f"deprel:{path}")["test"].labels[0] == ["root", "acl"]


def test_conllu_task_from_a_ud_folder(tmp_path):
    for split, n in (("train", 10), ("dev", 3), ("test", 4)):
        (tmp_path / f"xx_toy-ud-{split}.conllu").write_text(
            "".join(_conllu_sentence(i) for i in range(n))
        )
    data = load_task(f"xpos:{tmp_path}")
    assert [data[s].n_sentences for s in ("train", "dev", "test")] == [10, 3, 4]
    assert data["dev"].labels[0] == ["NN", "VBZ"]


def test_parallel_task_folder_and_pair(tmp_path):
    for split in ("train", "test"):
        (tmp_path / f"{split}.word").write_text("\n".join("a b c" for _ in range(10)) + "\n")
        (tmp_path / f"{split}.label").write_text("\n".join("X Y Z" for _ in range(10)) + "\n")
    data = load_task(f"parallel:{tmp_path}")
    assert data["dev"].n_sentences == 1 and data["train"].n_sentences == 9  # dev carved from train
    pair = load_task(f"parallel:{tmp_path / 'train.word'},{tmp_path / 'train.label'}")
    assert pair["train"].n_sentences == 8


def test_user_path_that_does_not_exist(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_task(f"upos:{tmp_path / 'none.conllu'}")
