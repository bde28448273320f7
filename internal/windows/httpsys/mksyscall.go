//go:build generate

package httpsys

// mkwinsyscall runs on the host, so the go:generate line lives in a file
// that builds on every OS under the generate tag:
// go generate -tags generate ./internal/windows/httpsys

//go:generate go run golang.org/x/sys/windows/mkwinsyscall -output zsyscall_windows.go syscall_windows.go
