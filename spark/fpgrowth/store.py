"""The FP-Growth output tables in the warehouse: DDL with keys, and atomic replacement.

The tables are created here (not by Spark's JDBC writer, whose overwrite drops keys and
indexes). A run replaces all rows of both tables in ONE transaction (delete, then insert):
readers see either the previous run or the new one, never a mix or an empty table.
"""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd

from cryptoquant import db
from cryptoquant.config import Settings

logger = logging.getLogger(__name__)

PATTERNS_TABLE = "fp_growth_win_patterns"
RULES_TABLE = "fp_growth_win_rules"

DDL = {
    PATTERNS_TABLE: f"""
create table if not exists {PATTERNS_TABLE} (
  pattern_id char(64) not null comment 'sha256 of the itemset JSON',
  itemset json not null comment 'Sorted JSON array of the item strings (includes outcome=WIN)',
  item_count int not null comment 'Number of items in the itemset',
  support double not null comment 'Share of in-sample closed trades containing the itemset',
  `count` bigint not null comment 'In-sample closed trades containing the itemset',
  run_id char(36) not null comment 'Mining run that wrote the row',
  mined_at datetime not null comment 'When the run mined it (UTC)',
  primary key (pattern_id),
  key ix_{PATTERNS_TABLE}_support (support)
) engine=InnoDB default charset=utf8mb4 comment='FP-Growth frequent itemsets with outcome=WIN'
""",
    RULES_TABLE: f"""
create table if not exists {RULES_TABLE} (
  rule_id char(64) not null comment 'sha256 of antecedent and consequent',
  antecedent json not null comment 'Sorted JSON array of the condition items',
  consequent json not null comment 'JSON array of the consequent items (["outcome=WIN"])',
  antecedent_size int not null comment 'Number of items in the antecedent',
  antecedent_count bigint not null comment 'In-sample trades matching the antecedent',
  win_count bigint not null comment 'In-sample trades matching the antecedent that won',
  support double not null comment 'win_count / in-sample trades',
  confidence double not null comment 'Win rate given the antecedent (in sample)',
  lift double not null comment 'confidence / base_win_rate',
  base_win_rate double not null comment 'In-sample win rate of all closed trades',
  p_value double not null comment 'One-sided binomial test: win rate > base rate',
  q_value double not null comment 'Benjamini-Hochberg adjusted p-value across tested rules',
  is_significant boolean not null comment 'q_value <= the false discovery rate (0.05)',
  oos_antecedent_count bigint not null comment 'Out-of-sample trades matching the antecedent',
  oos_win_count bigint not null comment 'Out-of-sample matching trades that won',
  oos_support double null comment 'oos_win_count / out-of-sample trades',
  oos_confidence double null comment 'Out-of-sample win rate given the antecedent',
  oos_lift double null comment 'oos_confidence / out-of-sample base win rate',
  run_id char(36) not null comment 'Mining run that wrote the row',
  mined_at datetime not null comment 'When the run mined it (UTC)',
  primary key (rule_id),
  key ix_{RULES_TABLE}_significant (is_significant, lift)
) engine=InnoDB default charset=utf8mb4 comment='FP-Growth rules with consequent outcome=WIN'
""",
}


def ensure_tables(settings: Settings) -> None:
    with db.warehouse(settings, autocommit=True) as conn, conn.cursor() as cur:
        for ddl in DDL.values():
            cur.execute(ddl)


def _rows(frame: pd.DataFrame, columns: list[str], run_id: str, mined_at: dt.datetime):
    out = []
    for rec in frame[columns].itertuples(index=False):
        values = [None if _isnull(v) else (v.item() if hasattr(v, "item") else v) for v in rec]
        out.append((*values, run_id, mined_at))
    return out


def _isnull(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def replace_results(settings: Settings, patterns: pd.DataFrame, rules: pd.DataFrame,
                    pattern_columns: list[str], rule_columns: list[str], run_id: str,
                    mined_at: dt.datetime) -> None:
    """Replace both tables' rows with this run's, atomically (one transaction)."""
    ensure_tables(settings)
    tables = ((PATTERNS_TABLE, patterns, pattern_columns), (RULES_TABLE, rules, rule_columns))
    with db.warehouse(settings) as conn:
        try:
            with conn.cursor() as cur:
                for table, frame, columns in tables:
                    cols = [*columns, "run_id", "mined_at"]
                    cur.execute(f"delete from {table}")
                    sql = (f"insert into {table} ({', '.join(f'`{c}`' for c in cols)}) "
                           f"values ({', '.join(['%s'] * len(cols))})")
                    rows = _rows(frame, columns, run_id, mined_at)
                    for start in range(0, len(rows), 1000):
                        cur.executemany(sql, rows[start:start + 1000])
            conn.commit()
        except Exception:
            conn.rollback()
            raise
    logger.info("replaced %s (%d rows) and %s (%d rows), run %s", PATTERNS_TABLE,
                len(patterns), RULES_TABLE, len(rules), run_id)
