// Command ferretdb runs FerretDB embedded with its SQLite backend: a server that speaks the MongoDB
// wire protocol from one Go binary, so tests and the dev stack need neither mongod nor Docker.
// It is built and started by common/src/testing/infra.ts.
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "host:port to listen on")
	dir := flag.String("dir", "/tmp/ferret", "directory for the SQLite files (one file per database)")
	logLevel := flag.String("log-level", "info", "debug, info, warn or error")
	// A parent killed with SIGKILL cannot stop its children; the pipe it held closes, though, so
	// watching stdin is the one signal that always arrives.
	exitOnStdinEOF := flag.Bool("exit-on-stdin-eof", false, "exit when stdin is closed")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		log.Fatalf("-log-level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	absDir, err := filepath.Abs(*dir)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(absDir, 0o755); err != nil {
		log.Fatal(err)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen},
		Logger:   logger,
		Handler:  "sqlite",
		// A file: URL (escaped, trailing slash = directory) so paths with spaces work.
		SQLiteURL: (&url.URL{Scheme: "file", Path: absDir + "/"}).String(),
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *exitOnStdinEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}

	go indexIDLookups(ctx, absDir, logger)

	// Run returns once ctx is cancelled and every connection and the SQLite handles are closed,
	// so SIGTERM ends in a clean exit 0.
	if err := f.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
