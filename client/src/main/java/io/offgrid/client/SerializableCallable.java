package io.offgrid.client;

import java.io.Serializable;
import java.util.concurrent.Callable;

/**
 * A function of no arguments that can be shipped to workers.
 *
 * @param <R> result type.
 */
@FunctionalInterface
public interface SerializableCallable<R> extends Callable<R>, Serializable
{
}
