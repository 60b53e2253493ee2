import Logging
import PostgresNIO

/// The PostgreSQL schema (docs/scale-out.md), in versioned migrations applied at start. The journal
/// is the truth; every other table is a summary written in the same transaction as the journal rows
/// it follows from. Times are Unix nanoseconds, as in the SQLite store.
enum PostgresSchema {
    /// Each migration is one script run in one transaction, in order; `moonflow_migrations` holds the
    /// versions applied. A database with a version above the last one here was migrated by a newer
    /// binary and is refused.
    static let migrations: [(version: Int, script: String)] = [(1, version1), (2, version2), (3, version3), (4, version4), (5, version5)]

    static var latest: Int { migrations.last?.version ?? 0 }

    /// Two-key advisory lock spaces (the first key); the second is a constant or a hash.
    enum LockSpace: Int32 {
        /// Session lock while migrating: one process migrates, the others wait.
        case migration = 0x4D46_0001
        /// Transaction lock of a workflow's definitions while a new version number is taken.
        case definitions = 0x4D46_0002
        /// Transaction lock of the journal's positions, held by every write of journal entries to
        /// its commit: positions are given out and become visible in commit order.
        case positions = 0x4D46_0003
        /// Transaction lock of run admission: slots are counted and taken one process at a time.
        case slots = 0x4D46_0004
    }

    /// Applies the missing migrations on `connection`, holding the migration lock; refuses a
    /// database newer than this binary.
    static func migrate(_ connection: PostgresConnection, url: String, logger: Logger) async throws {
        _ = try await connection.query("SELECT pg_advisory_lock(\(LockSpace.migration.rawValue), 0)", logger: logger)
        do {
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS moonflow_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                logger: logger)
            var current = 0
            for try await version in try await connection.query("SELECT coalesce(max(version), 0) FROM moonflow_migrations", logger: logger)
                .decode(Int.self)
            {
                current = version
            }
            guard current <= latest else { throw PostgresStoreError.newerSchema(url: url, database: current, binary: latest) }
            for migration in migrations where migration.version > current {
                do {
                    try await connection.query("BEGIN", logger: logger)
                    for statement in statements(of: migration.script) {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query("INSERT INTO moonflow_migrations (version) VALUES (\(migration.version))", logger: logger)
                    try await connection.query("COMMIT", logger: logger)
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw PostgresStoreError.migrationFailed(url: url, version: migration.version, detail: PostgresErrors.text(error))
                }
            }
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(LockSpace.migration.rawValue), 0)", logger: logger)
            throw error
        }
        _ = try await connection.query("SELECT pg_advisory_unlock(\(LockSpace.migration.rawValue), 0)", logger: logger)
    }

    /// A script's statements: each ends with `;` at the end of a line that is not indented (the
    /// bodies of functions are).
    static func statements(of script: String) -> [String] {
        var statements: [String] = []
        var current = ""
        for line in script.split(separator: "\n", omittingEmptySubsequences: false) {
            current += line + "\n"
            if line.hasSuffix(";"), line.first.map({ !$0.isWhitespace }) == true {
                statements.append(current)
                current = ""
            }
        }
        if !current.allSatisfy(\.isWhitespace) { statements.append(current) }
        return statements
    }

    /// The runs whose outbox holds a notification neither delivered nor dead-lettered, found
    /// without folding every run (docs/integrations.md).
    /// `moonflow_write` as in version 1, except that a run's row locked by another session (a
    /// transaction left open that updated or locked it) refuses that write at once (`busy`)
    /// instead of waiting: the write holds the positions' lock, so waiting stalled every commit of
    /// the cluster for as long as that session lived.
    static var version4: String {
        let function = String(version1[version1.range(of: "CREATE FUNCTION moonflow_write")!.lowerBound...])
        let locked = """
                            FROM runs WHERE id = run FOR UPDATE;
                        IF NOT FOUND THEN
                            results := results || jsonb_build_object('unknown', true);
                            CONTINUE;
                        END IF;
            """
        let skipping = """
                            FROM runs WHERE id = run FOR UPDATE SKIP LOCKED;
                        IF NOT FOUND THEN
                            IF EXISTS (SELECT 1 FROM runs WHERE id = run) THEN
                                results := results || jsonb_build_object('busy', true);
                            ELSE
                                results := results || jsonb_build_object('unknown', true);
                            END IF;
                            CONTINUE;
                        END IF;
            """
        precondition(function.contains(locked), "moonflow_write of version 1 changed")
        return "CREATE OR REPLACE" + function.dropFirst("CREATE".count).replacingOccurrences(of: locked, with: skipping)
    }

    /// A paused run (docs/operations.md) is unfinished: a process that dies leaves it to be
    /// claimed like a running one (its in-flight activities finish elsewhere), so claiming reads it.
    static let version5 = """
        DROP INDEX runs_ready;
        CREATE INDEX runs_ready ON runs(position) WHERE status IN ('queued', 'running', 'paused', 'compensating');
        """

    /// Run admission across processes: the queued runs admitted to a slot and not started yet (a
    /// run that starts holds its slot by its status), and a new run's slot while it is created
    /// (`taken_at`: one whose creation never committed stops counting after a minute).
    static let version3 = """
        CREATE TABLE run_admitted (
            run_id text PRIMARY KEY,
            workflow text NOT NULL,
            taken_at timestamptz NOT NULL DEFAULT now()
        );
        """

    static let version2 = """
        CREATE INDEX journal_notifications ON journal (run_id, type)
            WHERE type IN ('notification.queued', 'notification.delivered', 'notification.dead_lettered');
        """

    static let version1 = """
        -- Each definition version once, keyed by its content hash.
        CREATE TABLE definitions (
            hash text PRIMARY KEY,
            workflow text NOT NULL,
            version integer NOT NULL,
            workflow_file text NOT NULL,
            files text NOT NULL,             -- JSON object: path -> text, workflow file first
            created_at bigint NOT NULL,
            UNIQUE (workflow, version)
        );
        CREATE TABLE runs (
            id text PRIMARY KEY,
            position bigint GENERATED ALWAYS AS IDENTITY UNIQUE,  -- creation order
            workflow text NOT NULL,
            definition_hash text NOT NULL REFERENCES definitions(hash),
            status text NOT NULL,
            parent_run text,
            created_at bigint NOT NULL,
            updated_at bigint NOT NULL,
            next_timer_at bigint,
            journal_length integer NOT NULL,
            owner text,                      -- the process driving it (processes.id); NULL when it waits or ended
            epoch bigint NOT NULL DEFAULT 0  -- fencing token: bumped on every claim
        );
        CREATE INDEX runs_by_status ON runs(status, position);
        -- What claiming reads: the unfinished runs, a small part of the table.
        CREATE INDEX runs_ready ON runs(position) WHERE status IN ('queued', 'running', 'compensating');
        CREATE INDEX runs_by_workflow ON runs(workflow, position);
        CREATE INDEX runs_by_parent ON runs(parent_run) WHERE parent_run IS NOT NULL;
        -- Append-only.
        CREATE TABLE journal (
            run_id text NOT NULL REFERENCES runs(id),
            seq integer NOT NULL,            -- 1-based place in the run's journal
            type text NOT NULL,
            activity text,
            attempt integer,
            at bigint NOT NULL,
            event text NOT NULL,             -- the event's JSON (RunEvent.journalValue)
            position bigint NOT NULL UNIQUE, -- place in the store's history, in commit order
            PRIMARY KEY (run_id, seq)
        );
        CREATE TABLE activities (
            run_id text NOT NULL REFERENCES runs(id),
            name text NOT NULL,
            status text NOT NULL,
            attempts integer NOT NULL,
            interruptions integer NOT NULL,
            next_attempt_at bigint,
            seq integer,
            PRIMARY KEY (run_id, name)
        );
        CREATE TABLE timers (
            run_id text NOT NULL REFERENCES runs(id),
            kind text NOT NULL,              -- backoff, sleep, run_deadline, task_reminder, task_due, queue_timeout
            ref text NOT NULL,               -- the activity or task, '' for the run
            at bigint NOT NULL,
            PRIMARY KEY (run_id, kind, ref, at)
        );
        CREATE INDEX timers_by_time ON timers(at);
        CREATE TABLE tasks (
            id text PRIMARY KEY,
            run_id text NOT NULL REFERENCES runs(id),
            activity text NOT NULL,
            attempt integer NOT NULL,
            token text NOT NULL,
            users text NOT NULL,             -- JSON array
            groups text NOT NULL,            -- JSON array
            form text,                       -- JSON Schema
            created_at bigint NOT NULL,
            due bigint,
            reminders text NOT NULL,         -- JSON array of pending reminder times
            status text NOT NULL,
            completed_by text,
            data text,
            position bigint GENERATED ALWAYS AS IDENTITY  -- creation order
        );
        CREATE INDEX tasks_by_status ON tasks(status, position);
        CREATE INDEX tasks_by_run ON tasks(run_id);
        CREATE TABLE run_queue (
            run_id text PRIMARY KEY REFERENCES runs(id),
            workflow text NOT NULL,
            priority integer NOT NULL,
            sequence bigint NOT NULL,
            enqueued_at bigint NOT NULL,
            deadline bigint
        );
        CREATE INDEX run_queue_by_sequence ON run_queue(sequence);
        CREATE TABLE dead_letters (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            run_id text NOT NULL,
            at bigint NOT NULL,
            reason text NOT NULL
        );
        CREATE TABLE event_dead_letters (
            position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id text NOT NULL UNIQUE,
            workflow text NOT NULL,
            created_at bigint NOT NULL,
            letter text NOT NULL             -- JSON (EventDeadLetter.toValue)
        );
        CREATE INDEX event_dead_letters_by_workflow ON event_dead_letters(workflow, position);
        -- The engine processes: each renews its lease with one heartbeat (database time).
        CREATE TABLE processes (
            id text PRIMARY KEY,
            host text NOT NULL,
            pid integer NOT NULL,
            machine text NOT NULL,           -- boot id and pid namespace: where `pid` means this process
            started_at timestamptz NOT NULL DEFAULT now(),
            heartbeat_at timestamptz NOT NULL DEFAULT now(),
            lease_until timestamptz NOT NULL
        );

        -- Stores a definition unless its hash is stored, numbering it after the workflow's others.
        CREATE FUNCTION moonflow_put_definition(d jsonb) RETURNS void LANGUAGE plpgsql AS $fn$
        BEGIN
            PERFORM 1 FROM definitions WHERE hash = d->>'hash';
            IF FOUND THEN RETURN; END IF;
            PERFORM pg_advisory_xact_lock(\(LockSpace.definitions.rawValue), hashtext(d->>'workflow'));
            INSERT INTO definitions (hash, workflow, version, workflow_file, files, created_at)
                SELECT d->>'hash', d->>'workflow', coalesce(max(version), 0) + 1, d->>'file', d->>'files', (d->>'at')::bigint
                FROM definitions WHERE workflow = d->>'workflow'
                ON CONFLICT (hash) DO NOTHING;
        END
        $fn$;

        -- Writes a batch of transitions of process `me` in the caller's transaction, each checked
        -- first against its run's claim and journal length: a refused one writes nothing and does
        -- not stop the others. A write with an "epoch" holds a claim, which must still be the run's;
        -- one without claims the run unless a live process owns it. Returns one result per write:
        -- {"first": position, "count": n, "epoch": e}, {"exists": true} (a create of a stored run),
        -- {"conflict": length}, {"owned": process}, {"lost": true} or {"unknown": true}.
        CREATE FUNCTION moonflow_write(writes jsonb, me text) RETURNS jsonb LANGUAGE plpgsql AS $fn$
        DECLARE
            w jsonb;
            run text;
            results jsonb := '[]'::jsonb;
            last_position bigint;
            current_length integer;
            had_timers boolean;
            run_owner text;
            run_epoch bigint;
            written integer;
        BEGIN
            PERFORM pg_advisory_xact_lock(\(LockSpace.positions.rawValue), 0);
            SELECT coalesce(max(position), 0) INTO last_position FROM journal;
            FOR w IN SELECT value FROM jsonb_array_elements(writes) LOOP
                run := w->>'run';
                IF w->>'op' = 'create' THEN
                    PERFORM 1 FROM runs WHERE id = run;
                    IF FOUND THEN
                        results := results || jsonb_build_object('exists', true);
                        CONTINUE;
                    END IF;
                    PERFORM moonflow_put_definition(w->'definition');
                    INSERT INTO runs (id, workflow, definition_hash, status, parent_run, created_at, updated_at, journal_length)
                        VALUES (run, w->>'workflow', w->'definition'->>'hash', w->>'status', w->>'parent',
                                (w->>'created_at')::bigint, (w->>'created_at')::bigint, 0)
                        ON CONFLICT (id) DO NOTHING;
                    GET DIAGNOSTICS written = ROW_COUNT;
                    IF written = 0 THEN
                        results := results || jsonb_build_object('exists', true);
                        CONTINUE;
                    END IF;
                    current_length := 0;
                    had_timers := false;
                    run_epoch := 1;
                ELSE
                    SELECT journal_length, next_timer_at IS NOT NULL, owner, epoch
                        INTO current_length, had_timers, run_owner, run_epoch
                        FROM runs WHERE id = run FOR UPDATE;
                    IF NOT FOUND THEN
                        results := results || jsonb_build_object('unknown', true);
                        CONTINUE;
                    END IF;
                    IF w ? 'epoch' THEN
                        IF run_owner IS DISTINCT FROM me OR run_epoch <> (w->>'epoch')::bigint THEN
                            results := results || jsonb_build_object('lost', true);
                            CONTINUE;
                        END IF;
                    ELSIF run_owner IS DISTINCT FROM me THEN
                        IF run_owner IS NOT NULL
                            AND EXISTS (SELECT 1 FROM processes WHERE id = run_owner AND lease_until > now()) THEN
                            results := results || jsonb_build_object('owned', run_owner);
                            CONTINUE;
                        END IF;
                        run_epoch := run_epoch + 1;
                    END IF;
                    IF current_length <> (w->>'expect')::integer THEN
                        results := results || jsonb_build_object('conflict', current_length);
                        CONTINUE;
                    END IF;
                    IF w->>'op' = 'repin' THEN
                        PERFORM moonflow_put_definition(w->'definition');
                        UPDATE runs SET definition_hash = w->'definition'->>'hash' WHERE id = run;
                    END IF;
                END IF;
                INSERT INTO journal (run_id, seq, type, activity, attempt, at, event, position)
                    SELECT run, current_length + e.n, e.value->>'type', e.value->>'activity', (e.value->>'attempt')::integer,
                           (e.value->>'at')::bigint, e.value->>'event', last_position + e.n
                    FROM jsonb_array_elements(w->'events') WITH ORDINALITY AS e(value, n);
                results := results || jsonb_build_object(
                    'first', last_position + 1, 'count', jsonb_array_length(w->'events'), 'epoch', run_epoch);
                last_position := last_position + jsonb_array_length(w->'events');
                -- A run that waits or ended is nobody's: whichever process its timer or task wakes drives it.
                UPDATE runs SET status = w->>'status', updated_at = (w->>'updated_at')::bigint,
                        next_timer_at = (w->>'next_timer_at')::bigint, journal_length = (w->>'length')::integer,
                        owner = CASE WHEN (w->>'release')::boolean THEN NULL ELSE me END, epoch = run_epoch
                    WHERE id = run;
                INSERT INTO activities (run_id, name, status, attempts, interruptions, next_attempt_at, seq)
                    SELECT run, a.name, a.status, a.attempts, a.interruptions, a.next_attempt_at, a.seq
                    FROM jsonb_to_recordset(w->'activities')
                        AS a(name text, status text, attempts integer, interruptions integer, next_attempt_at bigint, seq integer)
                    ON CONFLICT (run_id, name) DO UPDATE SET status = excluded.status, attempts = excluded.attempts,
                        interruptions = excluded.interruptions, next_attempt_at = excluded.next_attempt_at, seq = excluded.seq;
                IF had_timers OR jsonb_array_length(w->'timers') > 0 THEN
                    DELETE FROM timers WHERE run_id = run;
                    INSERT INTO timers (run_id, kind, ref, at)
                        SELECT run, t.kind, t.ref, t.at FROM jsonb_to_recordset(w->'timers') AS t(kind text, ref text, at bigint)
                        ON CONFLICT DO NOTHING;
                END IF;
                INSERT INTO tasks (id, run_id, activity, attempt, token, users, groups, form, created_at, due, reminders,
                                   status, completed_by, data)
                    SELECT t.id, run, t.activity, t.attempt, t.token, t.users, t.groups, t.form, t.created_at, t.due, t.reminders,
                           t.status, t.completed_by, t.data
                    FROM jsonb_to_recordset(w->'tasks') AS t(id text, activity text, attempt integer, token text, users text,
                        groups text, form text, created_at bigint, due bigint, reminders text, status text, completed_by text, data text)
                    ON CONFLICT (id) DO UPDATE SET reminders = excluded.reminders, status = excluded.status,
                        completed_by = excluded.completed_by, data = excluded.data;
                IF w ? 'enqueue' THEN
                    INSERT INTO run_queue (run_id, workflow, priority, sequence, enqueued_at, deadline)
                        VALUES (run, w->>'workflow', (w->'enqueue'->>'priority')::integer, (w->'enqueue'->>'sequence')::bigint,
                                (w->'enqueue'->>'enqueued_at')::bigint, (w->'enqueue'->>'deadline')::bigint);
                ELSIF (w->>'dequeue')::boolean THEN
                    DELETE FROM run_queue WHERE run_id = run;
                END IF;
            END LOOP;
            RETURN results;
        END
        $fn$;
        """
}
