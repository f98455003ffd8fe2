// bench/peers/go_http/main.go: the Go net/http peer of the HTTP example
// (examples/http_server.c) and its libuv twin (bench/peers/uv_http.c):
// keep-alive HTTP/1.1, each request one blocking call (syscall.Nanosleep of
// sleep_us, a real blocking system call as in the C servers, then the same
// FNV-1a hash of hash_bytes as examples/http_parse.h, seeded by the request's
// number on its connection), the body the hash in hex. With threads > 0, at
// most that many calls run at once (a semaphore: the C servers' pool size);
// 0 leaves it to the Go runtime, which hands a blocked thread's P to another.
// SIGINT: http.Server.Shutdown, exit 0.
//
//	go-http port sleep_us hash_bytes [threads]
//
// bench/http_compare.sh builds it with go build into the build folder.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

type connKey struct{}

func hash(seed uint64, bytes int) uint64 {
	h := uint64(0xcbf29ce484222325) ^ seed
	x := seed | 1
	for i := 0; i < bytes; i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		for b := 0; b < 8; b++ {
			h ^= (x >> (8 * b)) & 0xff
			h *= 0x100000001b3
		}
	}
	return h
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: go-http port sleep_us hash_bytes [threads]")
		os.Exit(2)
	}
	port := os.Args[1]
	sleepUs, _ := strconv.Atoi(os.Args[2])
	hashBytes, _ := strconv.Atoi(os.Args[3])
	threads := 0
	if len(os.Args) > 4 {
		threads, _ = strconv.Atoi(os.Args[4])
	}
	var sem chan struct{}
	if threads > 0 {
		sem = make(chan struct{}, threads)
	}
	work := func(seed uint64) uint64 {
		if sem != nil {
			sem <- struct{}{}
			defer func() { <-sem }()
		}
		if sleepUs > 0 {
			ts := syscall.NsecToTimespec(int64(sleepUs) * 1000)
			syscall.Nanosleep(&ts, nil)
		}
		return hash(seed, hashBytes)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := r.Context().Value(connKey{}).(*uint64)
		*n++ // one request at a time per connection (HTTP/1.1)
		body := fmt.Sprintf("%016x\n", work(*n))
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write([]byte(body))
	})
	srv := &http.Server{
		Addr:    "0.0.0.0:" + port,
		Handler: handler,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, new(uint64))
		},
	}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("go http server on port %s\n", port)
	done := make(chan struct{})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		<-sig
		srv.Shutdown(context.Background())
		close(done)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	<-done
}
