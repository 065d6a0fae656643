from timetracker_import.core.outcomes import Counts


def test_balanced_when_every_row_is_somewhere() -> None:
    acc = Counts(rows=10, created=4, already_existing=2, rejected=1, unprocessed=2, skipped=1)
    assert acc.is_balanced()
    data = acc.to_dict()
    assert data["balanced"] is True
    assert data["created"] == 4 and data["rows"] == 10


def test_unbalanced_when_a_row_is_missing_or_double_counted() -> None:
    assert not Counts(rows=10, created=4, rejected=5).is_balanced()
    assert not Counts(rows=3, created=2, already_existing=2).is_balanced()
    assert Counts(rows=3, created=2, already_existing=2).to_dict()["balanced"] is False


def test_batch_counts_are_not_part_of_the_balance() -> None:
    acc = Counts(rows=2, created=2, posted_batches=5, in_file_duplicates=1)
    assert acc.is_balanced()
