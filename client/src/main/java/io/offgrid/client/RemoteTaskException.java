package io.offgrid.client;

/**
 * A task threw on a worker. Carries the remote exception's class name, message and stack trace as text (the
 * exception object itself is not shipped, so its class need not exist on the client). Dependents of the task
 * fail with the same cause.
 */
public final class RemoteTaskException extends GridException
{
    private static final long serialVersionUID = 1L;

    private final String key;
    private final String remoteClass;
    private final String remoteMessage;
    private final String remoteStackTrace;

    /**
     * @param key              the key whose future failed.
     * @param remoteClass      class name of the exception thrown on the worker.
     * @param remoteMessage    its message (may be empty).
     * @param remoteStackTrace its stack trace as printed on the worker.
     */
    public RemoteTaskException(
        final String key, final String remoteClass, final String remoteMessage, final String remoteStackTrace)
    {
        super("task '" + key + "' failed: " + remoteClass + (remoteMessage.isEmpty() ? "" : ": " + remoteMessage));
        this.key = key;
        this.remoteClass = remoteClass;
        this.remoteMessage = remoteMessage;
        this.remoteStackTrace = remoteStackTrace;
    }

    /**
     * @return the key whose future failed.
     */
    public String key()
    {
        return key;
    }

    /**
     * @return class name of the exception thrown on the worker.
     */
    public String remoteClass()
    {
        return remoteClass;
    }

    /**
     * @return the remote exception's message.
     */
    public String remoteMessage()
    {
        return remoteMessage;
    }

    /**
     * @return the remote stack trace, as text.
     */
    public String remoteStackTrace()
    {
        return remoteStackTrace;
    }
}
