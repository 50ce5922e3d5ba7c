package io.offgrid.client.internal;

import io.offgrid.client.SerializableBiFunction;
import io.offgrid.client.SerializableCallable;
import io.offgrid.client.SerializableFunction;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;

/**
 * Shipping functions: serialize on the client, deserialize behind an allow-list on the worker, and call them
 * with decoded arguments.
 */
public final class TaskFunctions
{
    /**
     * A function over any number of arguments (used for reductions over many partitions).
     */
    @FunctionalInterface
    public interface VarFunction extends Serializable
    {
        /**
         * @param args the arguments, dependencies resolved.
         * @return the result.
         * @throws Exception anything; the task's future fails with it.
         */
        Object apply(Object[] args) throws Exception;
    }

    /**
     * A function whose table dependencies (blocks stored by the table codec) arrive as
     * {@link io.offgrid.memory.TableView} flyweights over the stored blocks, pinned and read in place for the
     * duration of the call: no copy onto the heap. It must not keep the views after it returns.
     */
    @FunctionalInterface
    public interface TableFunction extends VarFunction
    {
    }

    private TaskFunctions()
    {
    }

    /**
     * @param fn a serializable function.
     * @return its Java serialization.
     */
    public static byte[] serialize(final Object fn)
    {
        if (!(fn instanceof Serializable))
        {
            throw new IllegalArgumentException("function " + fn.getClass().getName() + " is not Serializable: " +
                "use SerializableFunction / SerializableBiFunction / SerializableCallable");
        }
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
        try (ObjectOutputStream out = new ObjectOutputStream(bytes))
        {
            out.writeObject(fn);
        }
        catch (final IOException ex)
        {
            throw new IllegalArgumentException("cannot serialize function " + fn.getClass().getName() + ": " + ex, ex);
        }
        return bytes.toByteArray();
    }

    /**
     * @param code      what {@link #serialize} wrote.
     * @param allowList ObjectInputFilter pattern of the classes a function may contain.
     * @return the function.
     */
    public static Object deserialize(final byte[] code, final String allowList)
    {
        final ObjectInputFilter filter = ObjectInputFilter.Config.createFilter(allowList + ";!*");
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(code)))
        {
            in.setObjectInputFilter(filter);
            return in.readObject();
        }
        catch (final IOException | ClassNotFoundException ex)
        {
            throw new IllegalStateException("cannot load shipped function (allow-list '" + allowList + "'): " + ex, ex);
        }
    }

    /**
     * @param fn   the function.
     * @param args its arguments.
     * @return the function's result.
     * @throws Exception whatever the function throws.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static Object invoke(final Object fn, final Object[] args) throws Exception
    {
        if (fn instanceof VarFunction)
        {
            return ((VarFunction)fn).apply(args);
        }
        if (fn instanceof SerializableCallable && args.length == 0)
        {
            return ((SerializableCallable)fn).call();
        }
        if (fn instanceof SerializableFunction && args.length == 1)
        {
            return ((SerializableFunction)fn).apply(args[0]);
        }
        if (fn instanceof SerializableBiFunction && args.length == 2)
        {
            return ((SerializableBiFunction)fn).apply(args[0], args[1]);
        }
        throw new IllegalArgumentException("function " + fn.getClass().getName() + " cannot take " + args.length +
            " argument(s)");
    }

    /**
     * @param fn   a function.
     * @param argc number of arguments it will get.
     * @throws IllegalArgumentException when the arity does not fit, before anything is sent.
     */
    public static void checkArity(final Object fn, final int argc)
    {
        final boolean ok = fn instanceof VarFunction ||
            (fn instanceof SerializableCallable && argc == 0) ||
            (fn instanceof SerializableFunction && argc == 1) ||
            (fn instanceof SerializableBiFunction && argc == 2);
        if (!ok)
        {
            throw new IllegalArgumentException("function " + fn.getClass().getName() + " cannot take " + argc +
                " argument(s): use SerializableCallable (0), SerializableFunction (1) or SerializableBiFunction (2)");
        }
    }
}
