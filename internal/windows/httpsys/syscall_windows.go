package httpsys

// Bindings x/sys/windows lacks. httpapi.dll returns Win32 error codes
// directly; ntdll returns NTSTATUS. Callers check each proc with Find()
// first, so a missing export is an error, not a panic. NtCreateFile is
// declared again because x/sys takes its extended-attribute buffer as a
// uintptr, which a Go function call may leave dangling if the caller's stack
// moves; here it stays an unsafe.Pointer up to the system call.

//sys	httpInitialize(version uint32, flags uint32, reserved uintptr) (ret error) = httpapi.HttpInitialize
//sys	httpTerminate(flags uint32, reserved uintptr) (ret error) = httpapi.HttpTerminate
//sys	httpQueryServiceConfiguration(service windows.Handle, configID uint32, input unsafe.Pointer, inputLen uint32, output unsafe.Pointer, outputLen uint32, returnLen *uint32, overlapped *windows.Overlapped) (ret error) = httpapi.HttpQueryServiceConfiguration
//sys	ntCreateFile(handle *windows.Handle, access uint32, oa *windows.OBJECT_ATTRIBUTES, iosb *windows.IO_STATUS_BLOCK, allocationSize *int64, attributes uint32, share uint32, disposition uint32, options uint32, ea unsafe.Pointer, eaLength uint32) (ntstatus error) = ntdll.NtCreateFile
//sys	ntDeviceIoControlFile(file windows.Handle, event windows.Handle, apc uintptr, apcContext uintptr, iosb *windows.IO_STATUS_BLOCK, code uint32, input unsafe.Pointer, inputLen uint32, output unsafe.Pointer, outputLen uint32) (ntstatus error) = ntdll.NtDeviceIoControlFile
