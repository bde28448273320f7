//go:build generate

package iphlpapi

// mkwinsyscall runs on the host, so the go:generate line lives in a file
// that builds on every OS under the generate tag, as in x/sys/windows:
// go generate -tags generate ./internal/windows/iphlpapi

//go:generate go run golang.org/x/sys/windows/mkwinsyscall -output zsyscall_windows.go syscall_windows.go
