from datetime import date

from retrain_assets.core.simulation import daily_row_count


def test_weekends_are_quieter():
    saturday, monday = date(2025, 3, 8), date(2025, 3, 10)
    assert daily_row_count(saturday, 1_000) < daily_row_count(monday, 1_000)
