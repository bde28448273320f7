package probe

// This file reads Redis's answers (RESP, https://redis.io/docs/latest/
// develop/reference/protocol-spec/) to PING and INFO server.

import (
	"bytes"
	"strconv"
)

// RedisInfo is what a Redis server (or Valkey, KeyDB: anything that
// speaks RESP and answers PING) said.
type RedisInfo struct {
	// Auth says whether commands work without a password: "none" (PING
	// answered PONG), "required" (NOAUTH), "protected-mode" (DENIED: no
	// password set and the client is not on loopback).
	Auth string `json:"auth"`
	// Reply is the first line of the answer to PING, cleaned.
	Reply string `json:"reply"`
	// Version and Mode come from INFO server when it may be asked:
	// "7.0.15", "standalone"; Server is "Redis" or "Valkey" then.
	Server  string `json:"server,omitempty"`
	Version string `json:"version,omitempty"`
	Mode    string `json:"mode,omitempty"`
}

// RESP requests, as arrays of bulk strings.
var (
	redisPing = []byte("*1\r\n$4\r\nPING\r\n")
	redisInfo = []byte("*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
)

// redisMaxReply bounds a reply; INFO server is about 1.5 KiB.
const redisMaxReply = 8192

// parseRedisPing classifies the first line of the answer to PING; ok is
// false when it is not a Redis answer.
func parseRedisPing(b []byte) (auth string, ok bool) {
	l := firstLine(b)
	switch {
	case bytes.Equal(l, []byte("+PONG")):
		return "none", true
	case bytes.HasPrefix(l, []byte("-NOAUTH")):
		return "required", true
	case bytes.HasPrefix(l, []byte("-DENIED")):
		return "protected-mode", true
	}
	return "", false
}

// parseRedisInfo reads the bulk string INFO returns ("$N\r\n" then
// "key:value" lines) for the server's name ("Redis", or "Valkey", which
// also reports a compatible redis_version), version and mode. A reply
// cut short still yields what it holds.
func parseRedisInfo(b []byte) (name, version, mode string) {
	if len(b) == 0 || b[0] != '$' {
		return "", "", ""
	}
	head := firstLine(b[1:])
	if n, err := strconv.Atoi(string(head)); err != nil || n < 0 {
		return "", "", ""
	}
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return "", "", ""
	}
	var redis, valkey string
	for rest := b[i+1:]; len(rest) > 0; {
		l := firstLine(rest)
		if k, v, ok := bytes.Cut(l, []byte(":")); ok {
			switch string(k) {
			case "redis_version":
				redis = Clean(v, 64)
			case "valkey_version":
				valkey = Clean(v, 64)
			case "redis_mode", "server_mode":
				mode = Clean(v, 32)
			}
		}
		j := bytes.IndexByte(rest, '\n')
		if j < 0 {
			break
		}
		rest = rest[j+1:]
	}
	switch {
	case valkey != "":
		return "Valkey", valkey, mode
	case redis != "":
		return "Redis", redis, mode
	}
	return "", "", mode
}
