import GRDB

/// The SQLite schema (docs/durability.md). The journal is the truth; every other table is a
/// summary written in the same transaction as the journal rows it follows from, for queries and
/// for recovery to find work without folding every run.
enum StoreSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    -- Each definition version once, keyed by its content hash (docs/reload.md).
                    CREATE TABLE definitions (
                        hash TEXT PRIMARY KEY NOT NULL,
                        workflow TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        workflow_file TEXT NOT NULL,
                        files TEXT NOT NULL,          -- JSON object: path → text, workflow file first
                        created_at INTEGER NOT NULL,  -- Unix nanoseconds, as every time column
                        UNIQUE (workflow, version)
                    );
                    CREATE TABLE runs (
                        id TEXT PRIMARY KEY NOT NULL,
                        position INTEGER NOT NULL UNIQUE,  -- creation order
                        workflow TEXT NOT NULL,
                        definition_hash TEXT NOT NULL REFERENCES definitions(hash),
                        status TEXT NOT NULL,
                        parent_run TEXT,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        next_timer_at INTEGER,
                        journal_length INTEGER NOT NULL
                    );
                    CREATE INDEX runs_by_status ON runs(status, position);
                    CREATE INDEX runs_by_workflow ON runs(workflow, position);
                    CREATE INDEX runs_by_parent ON runs(parent_run) WHERE parent_run IS NOT NULL;
                    -- Append-only: rows are inserted, never updated or deleted.
                    CREATE TABLE journal (
                        run_id TEXT NOT NULL REFERENCES runs(id),
                        seq INTEGER NOT NULL,       -- 1-based position in the run's journal
                        type TEXT NOT NULL,
                        activity TEXT,
                        attempt INTEGER,
                        at INTEGER NOT NULL,
                        event TEXT NOT NULL,        -- the event's JSON (RunEvent.journalValue)
                        PRIMARY KEY (run_id, seq)
                    ) WITHOUT ROWID;
                    CREATE TABLE activities (
                        run_id TEXT NOT NULL REFERENCES runs(id),
                        name TEXT NOT NULL,
                        status TEXT NOT NULL,
                        attempts INTEGER NOT NULL,
                        interruptions INTEGER NOT NULL,
                        next_attempt_at INTEGER,
                        seq INTEGER,
                        PRIMARY KEY (run_id, name)
                    ) WITHOUT ROWID;
                    -- Absolute times: backoffs, sleeps, run deadlines, task reminders and expiry, queue timeouts.
                    CREATE TABLE timers (
                        run_id TEXT NOT NULL REFERENCES runs(id),
                        kind TEXT NOT NULL,         -- backoff, sleep, run_deadline, task_reminder, task_due, queue_timeout
                        ref TEXT NOT NULL,          -- the activity or task, '' for the run
                        at INTEGER NOT NULL,
                        PRIMARY KEY (run_id, kind, ref, at)
                    ) WITHOUT ROWID;
                    CREATE INDEX timers_by_time ON timers(at);
                    CREATE TABLE tasks (
                        id TEXT PRIMARY KEY NOT NULL,
                        run_id TEXT NOT NULL REFERENCES runs(id),
                        activity TEXT NOT NULL,
                        attempt INTEGER NOT NULL,
                        token TEXT NOT NULL,
                        users TEXT NOT NULL,        -- JSON array
                        groups TEXT NOT NULL,       -- JSON array
                        form TEXT,                  -- JSON Schema
                        created_at INTEGER NOT NULL,
                        due INTEGER,
                        reminders TEXT NOT NULL,    -- JSON array of pending reminder times
                        status TEXT NOT NULL,
                        completed_by TEXT,
                        data TEXT,
                        position INTEGER NOT NULL   -- creation order
                    );
                    CREATE INDEX tasks_by_status ON tasks(status, position);
                    CREATE TABLE run_queue (
                        run_id TEXT PRIMARY KEY NOT NULL REFERENCES runs(id),
                        workflow TEXT NOT NULL,
                        priority INTEGER NOT NULL,
                        sequence INTEGER NOT NULL UNIQUE,
                        enqueued_at INTEGER NOT NULL,
                        deadline INTEGER
                    );
                    -- Runs recovery could not drive, with why; kept for an operator.
                    CREATE TABLE dead_letters (
                        id INTEGER PRIMARY KEY,
                        run_id TEXT NOT NULL,
                        at INTEGER NOT NULL,
                        reason TEXT NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("event-dead-letters") { db in
            try db.execute(
                sql: """
                    -- Event starts a workflow refused (its input schema), with the event and the
                    -- errors (EventDeadLetter); at most the retention limit, the oldest dropped.
                    CREATE TABLE event_dead_letters (
                        position INTEGER PRIMARY KEY,   -- creation order
                        id TEXT NOT NULL UNIQUE,
                        workflow TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        letter TEXT NOT NULL            -- JSON (EventDeadLetter.toValue)
                    );
                    CREATE INDEX event_dead_letters_by_workflow ON event_dead_letters(workflow, position);
                    """)
        }
        migrator.registerMigration("journal-positions") { db in
            try db.execute(
                sql: """
                    -- Each journal entry's place in the store's history, across runs, in commit
                    -- order (EventPosition.offset): the event stream's ids and Last-Event-ID.
                    -- Entries written before it existed are numbered by time, then run and seq.
                    ALTER TABLE journal ADD COLUMN position INTEGER;
                    UPDATE journal SET position = numbered.n
                        FROM (SELECT run_id AS r, seq AS s, ROW_NUMBER() OVER (ORDER BY at, run_id, seq) AS n FROM journal) AS numbered
                        WHERE journal.run_id = numbered.r AND journal.seq = numbered.s;
                    CREATE UNIQUE INDEX journal_by_position ON journal(position);
                    """)
        }
        migrator.registerMigration("notification-outbox") { db in
            try db.execute(
                sql: """
                    -- The outbox entries of the journal (docs/integrations.md): which runs hold a
                    -- notification neither delivered nor dead-lettered, without folding every run.
                    CREATE INDEX journal_notifications ON journal(run_id, type)
                        WHERE type IN ('notification.queued', 'notification.delivered', 'notification.dead_lettered');
                    """)
        }
        return migrator
    }
}
