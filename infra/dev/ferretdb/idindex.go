package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the SQLite driver FerretDB itself uses
)

// FerretDB 1.24's SQLite backend looks documents up by _id with
//
//	WHERE _ferretdb_sjson->'$._id' = ?
//
// but creates its unique _id index on the expression _ferretdb_sjson->"_id". SQLite uses an
// expression index only for the very same expression, so every find, update and delete by _id scans
// the whole table (27 ms per update at 3,000 documents, growing linearly). This loop adds, to every
// collection table, an index on exactly the expression the queries use. It changes no data and no
// result, only the query plan; real MongoDB needs nothing of the kind.
func indexIDLookups(ctx context.Context, dir string, logger *slog.Logger) {
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		for _, file := range files {
			if err := indexFile(ctx, file); err != nil {
				logger.Debug("id index pass failed", "file", file, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func indexFile(ctx context.Context, file string) error {
	// busy_timeout: wait for FerretDB's writers instead of failing; the pass runs again anyway.
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(2000)")
	if err != nil {
		return err
	}
	defer db.Close()

	// Collection tables that lack the index (a dropped and re-created collection loses it, so
	// this is read from the schema on every pass rather than remembered).
	rows, err := db.QueryContext(ctx, `SELECT c.table_name FROM _ferretdb_collections c
		WHERE NOT EXISTS (SELECT 1 FROM sqlite_master m WHERE m.type = 'index' AND m.name = c.table_name || '__id_lookup')`)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, table)
	}
	rows.Close()

	for _, table := range tables {
		quoted := `"` + strings.ReplaceAll(table, `"`, `""`) + `"`
		index := `"` + strings.ReplaceAll(table+"__id_lookup", `"`, `""`) + `"`
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (_ferretdb_sjson->'$._id')`, index, quoted)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
