public enum AudioIOPlaceholder {}
