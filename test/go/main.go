// Command gointerop serves the Go eventrail (github.com/PabloPavan/eventrail), for eventrail's
// interop test (test/go-contract.test.ts): the Go original's SSE handler at /events and its
// Publisher at /publish, on the Redis named by -redis (or REDIS_URL).
//
//	GET  /events?scope=1&user=1   the Go handler; the router gives the principal "{scope}:{id}:*"
//	POST /publish                 {"channel": "gym:1:students", "event_type": "students.changed",
//	                               "data": {...}}: Publisher.PublishEvent, or PublishType
//	                               without "data"; answers 204, or 400/500 with the error
//
// It prints "listening http://HOST:PORT" on stdout once it accepts connections.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/PabloPavan/eventrail/sse"
	sseredis "github.com/PabloPavan/eventrail/sse/redis"
	"github.com/redis/go-redis/v9"
)

type resolverFunc func(*http.Request) (*sse.Principal, error)

func (f resolverFunc) Resolve(r *http.Request) (*sse.Principal, error) { return f(r) }

func queryInt(r *http.Request, name string) (int64, error) {
	value := r.URL.Query().Get(name)
	if value == "" {
		return 1, nil
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid %s %q", name, value)
	}
	return n, nil
}

func resolve(r *http.Request) (*sse.Principal, error) {
	scopeID, err := queryInt(r, "scope")
	if err != nil {
		return nil, err
	}
	userID, err := queryInt(r, "user")
	if err != nil {
		return nil, err
	}
	return &sse.Principal{UserID: userID, ScopeID: scopeID}, nil
}

type publishRequest struct {
	Channel   string          `json:"channel"`
	EventType string          `json:"event_type"`
	Data      json.RawMessage `json:"data,omitempty"`
}

func publishHandler(publisher *sse.Publisher) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		var req publishRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		var err error
		if len(req.Data) == 0 {
			err = publisher.PublishType(ctx, req.Channel, req.EventType)
		} else {
			err = publisher.PublishEvent(ctx, req.Channel, sse.Event{EventType: req.EventType, Data: req.Data})
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func main() {
	redisURL := flag.String("redis", os.Getenv("REDIS_URL"), "Redis URL (default $REDIS_URL)")
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	prefix := flag.String("prefix", "", "EventNamePrefix of the Go server")
	scope := flag.String("scope", "gym", "scope name in the routed pattern {scope}:{id}:*")
	watchStdin := flag.Bool("exit-on-stdin-eof", false, "exit when stdin closes (the parent died)")
	flag.Parse()
	if *redisURL == "" {
		log.Fatal("no Redis: pass -redis or set REDIS_URL")
	}
	redisOptions, err := redis.ParseURL(*redisURL)
	if err != nil {
		log.Fatalf("bad Redis URL: %v", err)
	}
	client := redis.NewClient(redisOptions)
	defer client.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *watchStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}

	server, err := sse.NewServer(sseredis.NewBrokerPubSub(client), sse.Options{
		Context:         ctx,
		Resolver:        resolverFunc(resolve),
		Router:          func(p *sse.Principal) []string { return []string{fmt.Sprintf("%s:%d:*", *scope, p.ScopeID)} },
		EventNamePrefix: *prefix,
		Hooks: sse.Hooks{
			OnError: func(_ context.Context, err error) { log.Printf("eventrail error: %v", err) },
		},
	})
	if err != nil {
		log.Fatalf("failed to create the Go eventrail server: %v", err)
	}

	mux := http.NewServeMux()
	mux.Handle("/events", server.Handler())
	mux.HandleFunc("/publish", publishHandler(server.Publisher()))
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		server.Close() // ends the open streams
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()

	fmt.Printf("listening http://%s\n", listener.Addr())
	if err := srv.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("serve: %v", err)
	}
}
