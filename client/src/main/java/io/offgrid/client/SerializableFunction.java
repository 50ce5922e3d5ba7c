package io.offgrid.client;

import java.io.Serializable;
import java.util.function.Function;

/**
 * A one-argument function that can be shipped to workers: write it as a lambda or a serializable class.
 *
 * @param <T> argument type.
 * @param <R> result type.
 */
@FunctionalInterface
public interface SerializableFunction<T, R> extends Function<T, R>, Serializable
{
}
