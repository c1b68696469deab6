/**
 * The consumption engine: what {@link dev.courier.engine} describes, and the settings Courier's CDI extension and the
 * Java SE runner build it with. Not API: it may change in any release.
 */
package dev.courier.internal.engine;
